"""`fusionbench report` on the synthetic set: a static folder, checked as files and in a real
headless Chromium (skipped, saying why, when no browser is installed)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fusionbench.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    env = os.environ.get("FUSIONBENCH_BROWSER")
    if env:
        return env if shutil.which(env) else None
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def headless(browser: str, *args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--allow-file-access-from-files", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    store = base / "results"
    assert main(["run", "--methods", "average,max", "--dataset", "synthetic", "--results", str(store),
                 "--no-progress"]) == 0
    out = base / "rep"
    assert main(["report", "--dataset", "synthetic", "--results", str(store), "--against", "max",
                 "--metrics", "nmi,qy,en", "-o", str(out)]) == 0
    return out, store


def test_report_folder_is_self_contained(report):
    out, store = report
    index = (out / "index.html").read_text()
    for page in ("index.html", "metrics.html", "provenance.html", "assets/report.js", "assets/report.css",
                 "fig/cd.png", "fig/cd.svg"):
        assert (out / page).is_file(), page
    # no network: every src/href is relative and exists in the folder
    for name in ("index.html", "metrics.html", "provenance.html"):
        text = (out / name).read_text()
        refs = re.findall(r'(?:src|href)="([^"#]+)', text)
        assert refs
        for ref in refs:
            assert not re.match(r"^[a-z]+:", ref) and not ref.startswith("//"), ref
            assert (out / ref).is_file(), ref
    for asset in ("assets/report.js", "assets/report.css"):
        assert "http" not in (out / asset).read_text()
    # one row per method in the means table; sources and every fused image in the gallery
    table = index.split('<table id="means"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 2 and 'data-methods="2"' in table
    pairs = sorted(p.stem for p in (store / "synthetic" / "average" / "fused").glob("*.png"))
    for p in pairs:
        for rel in (f"img/src/{p}_ir.png", f"img/src/{p}_vi.png", f"img/fused/average/{p}.png",
                    f"img/fused/max/{p}.png", f"img/thumbs/fused/max/{p}.png"):
            assert (out / rel).is_file(), rel
    assert (out / "img/fused/max" / f"{pairs[0]}.png").read_bytes() == \
        (store / "synthetic/max/fused" / f"{pairs[0]}.png").read_bytes()
    assert "Source images not shown" not in index
    prov = (out / "provenance.html").read_text()
    assert "fusionbench" in prov and str(store.resolve()) in prov and "average" in prov
    metrics = (out / "metrics.html").read_text()
    assert "nmi" in metrics and "higher is better" in metrics


def test_report_without_sources_says_so(tmp_path, small_pair):
    from PIL import Image

    data = tmp_path / "mine"
    for sub, img in (("ir", small_pair[0]), ("vi", small_pair[1])):
        (data / sub).mkdir(parents=True)
        Image.fromarray(img.astype("uint8")).save(data / sub / "a.png")
    store = tmp_path / "results"
    assert main(["run", "--methods", "average", "--dataset", str(data), "--results", str(store),
                 "--no-progress", "--metrics", "en"]) == 0
    shutil.rmtree(data)                       # the sources are gone; the store keeps the fused image
    (label,) = [d.name for d in store.iterdir() if d.is_dir()]
    out = tmp_path / "rep"
    assert main(["report", "--dataset", label, "--results", str(store), "-o", str(out)]) == 0
    index = (out / "index.html").read_text()
    assert "Source images not shown" in index and "img/src/" not in index and "img/fused/average/" in index


def test_report_refuses_a_foreign_nonempty_folder(report, tmp_path, capsys):
    _, store = report
    (tmp_path / "keep.txt").write_text("x")
    assert main(["report", "--dataset", "synthetic", "--results", str(store), "-o", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").exists()


def test_report_in_headless_chromium(report, tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium/Chrome found (apt-get install chromium; or set FUSIONBENCH_BROWSER)")
    out, _ = report
    url = (out / "index.html").resolve().as_uri()
    res = headless(browser, "--virtual-time-budget=10000", "--dump-dom", url + "#selftest")
    m = re.search(r'<pre id="selftest-result">(.*?)</pre>', res.stdout, re.S)
    assert m, f"self-test did not run: rc={res.returncode} {res.stderr[-500:]}"
    import html

    result = json.loads(html.unescape(m.group(1)))
    assert result["errors"] == [] and result["ok"]
    assert result["zoom"] == {"open": True, "src": True, "closed": True}     # click to zoom, click to close
    assert result["rows"] == ["average", "max"] and result["expected_rows"] == 2     # one row per method
    # sorting reorders: for every metric column, descending then ascending are reverses, and
    # the descending order follows the means that `stats` computes
    from fusionbench.stats import stats_report
    from fusionbench.store import ResultStore

    stats = [r.as_dict() for r in stats_report(ResultStore(report[1], create=False), ["synthetic"]).rows]
    sorts = result["sorts"]
    assert len(sorts) == 2 * 4                                  # pairs + 3 metrics, both directions
    reordered = 0
    for first, second in zip(sorts[::2], sorts[1::2]):
        assert {first["dir"], second["dir"]} == {"ascending", "descending"}
        if first["column"] != "n":
            assert first["order"] == second["order"][::-1]
            reordered += first["order"] != ["average", "max"] or second["order"] != ["average", "max"]
        if first["column"] != "n":
            means = {r["method"]: r["mean"] for r in stats if r["metric"] == first["column"]}
            desc = first if first["dir"] == "descending" else second
            assert desc["order"] == sorted(means, key=lambda k: -means[k])
    assert reordered == 3
    # every image loaded (no broken image)
    imgs = result["images"]
    assert len(imgs) >= 4 * 4 + 1 and all(i["ok"] and i["w"] > 0 for i in imgs)
    # screenshot (kept beside the report; FUSIONBENCH_SCREENSHOT=path also copies it there)
    shot = out / "screenshot.png"
    headless(browser, "--hide-scrollbars", "--window-size=1400,1600", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000
    if os.environ.get("FUSIONBENCH_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["FUSIONBENCH_SCREENSHOT"])
