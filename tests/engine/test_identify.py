"""``fusionbench identify``: the catalogue names the configuration that produced a table's means; the
generated axes (gray conversion, histogram bins, JPEG re-encoding), the subset search and ``--jobs``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fusionbench.cli import main
from fusionbench.data import load_dataset
from fusionbench.errors import InputError
from fusionbench.identify import (FIT_UNITS, RowData, catalogue, joint_subset, parse_ks, subset_column,
                                  subset_table)
from fusionbench.imageio import read_image, rgb2gray
from fusionbench.scores import read_values
from fusionbench.store import ResultStore

TRUE = ("cddfuse:ssim", "zoo:nmi", "qabf_liu")
QUANT = "ssim,nmi,qabf"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("identify") / "res"
    assert main(["run", "--methods", "average,max", "--dataset", "synthetic", "--metrics", ",".join(TRUE),
                 "--results", str(root), "--no-progress"]) == 0
    return root


def _means(root: Path) -> dict[str, dict[str, float]]:
    st = ResultStore(root, create=False)
    out = {}
    for m in ("average", "max"):
        vals = read_values(st, "synthetic", m, list(TRUE), parts=False)
        out[m] = {k: float(np.mean([v[k] for v in vals.values()])) for k in TRUE}
    return out


def _identify(capsys, root: Path, table: Path, *extra: str) -> str:
    capsys.readouterr()
    rc = main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(root),
               "--quantities", QUANT, *extra])
    assert rc == 0
    return capsys.readouterr().out


def test_identify_names_the_producing_configuration(store, tmp_path, capsys):
    means = _means(store)
    table = tmp_path / "t.csv"
    # the 4th column is cddfuse:ssim pushed 5 units of the last digit off on one row: nothing fits
    lines = ["row,SSIM,NMI,QABF,OFF"]
    for m, d in means.items():
        off = f"{d['cddfuse:ssim'] + 5e-4:.4f}" if m == "average" else ""
        lines.append(f"{m},{d['cddfuse:ssim']:.4f},{d['zoo:nmi']:.4f},{d['qabf_liu']:.4f},{off}")
    table.write_text("\n".join(lines) + "\n")
    res = json.loads(_identify(capsys, store, table, "--format", "json", "--top", "50"))
    cols = res["columns"]
    assert set(cols) == {"SSIM", "NMI", "QABF", "OFF"}
    for label, true in zip(("SSIM", "NMI", "QABF"), TRUE):
        ranked = cols[label]
        first = ranked[0]
        assert set(first) >= {"metric", "params", "max_abs_err", "mean_abs_err"}
        assert first["metric"] == true, (label, [e["metric"] for e in ranked[:5]])
        assert first["max_abs_err"] <= 0.5 + 1e-6  # rounded to 4 decimals: within half a unit
        assert first["mean_abs_err"] <= first["max_abs_err"]
        errs = [e["max_abs_err"] for e in ranked]
        assert errs == sorted(errs)
        assert all(r["n"] == 4 for r in first["rows"].values())
    # the off column is fitted only by the one printed row; it is 5 units off the truth
    off = cols["OFF"]
    assert list(off[0]["rows"]) == ["average"]
    true_off = next(e for e in off if e["metric"] == "cddfuse:ssim")
    assert 4.5 <= true_off["max_abs_err"] <= 5.5
    # rerun: the values come from the store's cache file
    assert (store / "synthetic" / "identify_cache.json").is_file()
    text = _identify(capsys, store, table, "--top", "3")
    assert "SSIM:" in text and "1. cddfuse:ssim" in text
    block = text.split("OFF:")[1]
    if off[0]["max_abs_err"] > 1:
        assert "none within ±1 in the last printed digit" in block
    assert "none within" not in text.split("OFF:")[0]


def test_identify_none_fits(store, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("row,X\naverage,9.1234\nmax,-3.5\n")
    text = _identify(capsys, store, table)
    assert "none within ±1 in the last printed digit" in text


def test_identify_bad_table(store, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("method,X\naverage,1\n")
    assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(store)]) == 2
    assert "header" in capsys.readouterr().err
    table.write_text("row,X\nnosuch,1\n")
    assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(store),
                 "--quantities", QUANT]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_generated_nmi_family_matches_the_registered_scripts(store):
    """The histogram family reproduces Liu's nmi (Hossny form), zoo:nmi and cddfuse:mi (nats)."""
    from fusionbench.data import load_dataset
    from fusionbench.identify import catalogue, decimals, image_values
    from fusionbench.imageio import read_image

    p = load_dataset("synthetic").pairs[0]
    raw = [p.ir_raw(), p.vi_raw(), read_image(store / "synthetic" / "max" / "fused" / f"{p.name}.png")]
    convs = [c for c in catalogue(quantities=["nmi", "mi"])
             if c.name in {"nmi", "zoo:nmi", "cddfuse:mi", "nmi~hossny~round", "nmi~zoo2~round",
                           "mi~sum~loge~round", "nmi~sqrt~round"}]
    v = image_values(raw, convs)
    assert v["nmi~hossny~round"] == pytest.approx(v["nmi"], abs=1e-9)
    assert v["nmi~zoo2~round"] == pytest.approx(v["zoo:nmi"], abs=1e-4)  # zoo adds eps inside its logs
    assert v["mi~sum~loge~round"] == pytest.approx(v["cddfuse:mi"], abs=1e-9)
    assert abs(v["nmi~sqrt~round"] - v["nmi"]) > 1e-6  # a different normalisation
    assert (decimals("0.3509"), decimals("2"), decimals("2.646")) == (4, 0, 3)


# -- generated axes, subsets, --jobs ------------------------------------------------------------
METHODS = ("average", "max")


def _triples(root: Path):
    for m in METHODS:
        for p in load_dataset("synthetic").pairs:
            yield m, p.ir_raw(), p.vi_raw(), read_image(root / "synthetic" / m / "fused" / f"{p.name}.png")


def _gray(a: np.ndarray) -> np.ndarray:
    return np.asarray(rgb2gray(a), np.float64)


def _cv_gray(a: np.ndarray) -> np.ndarray:
    return (a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)).astype(np.float64)


def _nmi_bins(a: np.ndarray, b: np.ndarray, f: np.ndarray, bins: int) -> float:
    """Hossny NMI from numpy's histogram2d with ``bins`` equal bins over [0, 255] (independent code)."""
    def part(x, y):
        j, _, _ = np.histogram2d(x.ravel(), y.ravel(), bins=bins, range=[[0, 255], [0, 255]])
        p = j / j.sum()

        def h(q):
            q = q[q > 0]
            return -(q * np.log2(q)).sum()

        hx, hy = h(p.sum(1)), h(p.sum(0))
        return 2 * (hx + hy - h(p)) / (hx + hy)

    return part(a, f) + part(b, f)


def _jpeg(f: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float64)


def test_new_axes_are_named_first(store, tmp_path, capsys):
    """Columns made by OpenCV gray (IFC), 64-bin NMI and Q_Y on the fused image as JPEG q90, each
    computed here by independent code, are attributed to exactly those generated conventions."""
    from fusionbench.metrics.ifc import ifc
    from fusionbench.metrics.qy import qy

    vals: dict[str, dict[str, list[float]]] = {m: {"IFC": [], "NMI": [], "QY": []} for m in METHODS}
    for m, ir, vi, f in _triples(store):
        assert f.ndim == 2
        vals[m]["IFC"].append(ifc(_cv_gray(ir), _cv_gray(vi), f.astype(np.float64))["total"])
        vals[m]["NMI"].append(_nmi_bins(_gray(ir), _gray(vi), f.astype(np.float64), 64))
        vals[m]["QY"].append(qy(_gray(ir), _gray(vi), _jpeg(f, 90)))
    table = tmp_path / "t.csv"
    lines = ["row,IFC,NMI,QY"] + [f"{m}," + ",".join(f"{np.mean(vals[m][c]):.6f}" for c in ("IFC", "NMI", "QY"))
                                  for m in METHODS]
    table.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(store),
                 "--quantities", "ifc,nmi,qy", "--axes", "gray,jpeg,hist", "--format", "json", "--top", "3"]) == 0
    res = json.loads(capsys.readouterr().out)
    for label, want in (("IFC", "ifc~gray=opencv"), ("NMI", "nmi~hossny~b64"), ("QY", "qy~jpeg90")):
        first = res["columns"][label][0]
        assert first["metric"] == want, (label, [e["metric"] for e in res["columns"][label]])
        assert first["max_abs_err"] <= 0.5 + 1e-6
        # the runner-up is far off: the axis really changes the values (1 unit = 1e-6 here)
        assert res["columns"][label][1]["max_abs_err"] > 5


def test_catalogue_axes_and_registered_equivalents(store):
    """Every new axis is present with parameters; the default-window Q_Y variant is ``qy`` itself and
    gray conversions leave gray images alone (so TNO-like gray sets cost nothing extra)."""
    from fusionbench.conventions import gray_view, qy_variant
    from fusionbench.identify import image_values
    from fusionbench.metrics.ifc import ifc
    from fusionbench.metrics.qy import qy
    from fusionbench.metrics.similarity import ssim

    cat = catalogue()
    axes = {c.axis for c in cat}
    assert axes >= {"", "parts", "hist", "gray", "jpeg", "window", "range"}
    names = {c.name: c for c in cat}
    assert len(names) == len(cat)  # unique names
    assert names["nmi~gray=pil"].params["gray"] == "pil"
    assert names["ifc~jpeg75"].params["fused_jpeg_quality"] == 75
    assert names["ssim~u7~L2~sum"].params == {"window": "uniform", "size": 7, "sigma": 1.5, "data_range": 2.0,
                                              "combine": "sum"}
    assert len(catalogue(axes=[])) < len(catalogue(axes=["gray"])) < len(cat)
    m, ir, vi, f = next(_triples(store))
    g = [_gray(ir), _gray(vi), f.astype(np.float64)]
    assert qy_variant(*g) == pytest.approx(qy(*g), abs=1e-9)
    assert np.array_equal(gray_view(ir, "ycbcr_studio"), ir.astype(np.float64))  # gray passes
    v = image_values([ir, vi, f], [names[n] for n in ("ssim~u7~L2~sum", "nmi~hossny~round", "nmi~hossny~n1",
                                                       "nmi", "ifc~range=0..1")])
    want = ssim(*g, window="uniform", size=7, sigma=1.5, data_range=2.0, combine="sum")["total"]
    assert v["ssim~u7~L2~sum"] == pytest.approx(want, abs=1e-12)
    assert v["ifc~range=0..1"] == pytest.approx(ifc(*(x / 255 for x in g))["total"], abs=1e-12)
    assert v["nmi~hossny~n1"] == pytest.approx(v["nmi"], abs=1e-9)  # normalize1 + Hossny = Liu's metricMI


def _rows(values: dict[str, np.ndarray], printed: dict[str, str], name: str = "c") -> list[RowData]:
    n = len(next(iter(values.values())))
    pairs = [f"p{i:02d}" for i in range(n)]
    return [RowData(r, r, {"X": printed[r]}, pairs, {name: v}) for r, v in values.items()]


def test_subset_search_on_a_toy_store():
    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.2, 0.6, 12), rng.uniform(0.4, 0.9, 12)
    chosen = [0, 2, 3, 5, 7, 8, 10, 11]                        # a known 8-subset of 12 pairs
    printed = {"A": f"{a[chosen].mean():.4f}", "B": f"{b[chosen].mean():.4f}"}
    rows = _rows({"A": a, "B": b}, printed)
    ranked = [{"metric": "c"}]
    s = subset_column("X", rows, ranked, [8])
    assert s["range_ok"] == 1 and s["shared_pool"] == 12
    (check,) = s["joint"]
    assert check["joint"] == "feasible" and len(check["left_out"]) == 4
    for r, v in (("A", a), ("B", b)):                           # the witness really reproduces both rows
        keep = [i for i in range(12) if f"p{i:02d}" not in check["left_out"]]
        assert abs(v[keep].mean() - float(printed[r])) <= FIT_UNITS * 1e-4 + 1e-12
        assert check["means"][r] == pytest.approx(v[keep].mean())
    assert "could explain" in s["verdict"] and "not identified" in s["verdict"]
    # table level: a second column made from the SAME pairs fits jointly; one from others need not
    both = [RowData(r.row, r.method, {"X": r.printed["X"], "Y": r.printed["X"]}, r.pairs, r.values) for r in rows]
    cols = {lab: subset_column(lab, both, ranked, [8]) for lab in ("X", "Y")}
    (t,) = subset_table(both, cols)
    assert t["k"] == 8 and t["joint"] == "feasible" and len(t["left_out"]) == 4
    # a value outside [mean of the 8 smallest, mean of the 8 largest]: no subset can explain it
    hi = np.sort(a)[-8:].mean()
    s = subset_column("X", _rows({"A": a, "B": b}, {"A": f"{hi + 0.01:.4f}", "B": printed["B"]}), ranked, [8])
    assert s["range_ok"] == 0 and s["joint"] == [] and s["verdict"].startswith("no k=8 subset")
    # each row alone is in range, but no ONE subset fits both: B needs the pairs A must avoid
    x = np.arange(10, dtype=float) / 10
    rows = _rows({"A": x, "B": x}, {"A": f"{x[-5:].mean():.4f}", "B": f"{x[:5].mean():.4f}"})
    s = subset_column("X", rows, ranked, [5])
    assert s["range_ok"] == 1 and s["joint"][0]["joint"] == "infeasible"
    assert "no single set of pairs" in s["verdict"]
    (t,) = subset_table(rows, {"X": s})
    assert t["joint"] == "infeasible" and "every convention ruled out" in t["why"]


def test_joint_subset_milp_path():
    """Beyond the enumeration limit the integer program finds (or refutes) a subset; checked exactly."""
    rng = np.random.default_rng(3)
    v = rng.uniform(0, 1, (2, 40))                              # C(40, 15) ~ 4e10 subsets
    idx = sorted(rng.choice(40, 15, replace=False).tolist())
    target = v[:, idx].mean(axis=1)
    status, got = joint_subset(v, target - 1e-4, target + 1e-4, 15)
    assert status == "feasible" and len(got) == 15
    assert np.all(np.abs(v[:, got].mean(axis=1) - target) <= 1e-4 + 1e-12)
    status, got = joint_subset(v, np.array([1.5, 0.5]), np.array([1.6, 0.6]), 15)  # mean > 1: impossible
    assert status == "infeasible" and got is None
    # k = all pairs: the one subset is the full set (the ranking's own criterion)
    w = np.array([[0.1, 0.2, 0.3]])
    assert joint_subset(w, np.array([0.19]), np.array([0.21]), 3) == ("feasible", [0, 1, 2])
    assert joint_subset(w, np.array([0.3]), np.array([0.4]), 3) == ("infeasible", None)
    assert parse_ks("19-21") == [19, 20, 21] and parse_ks("18,20") == [18, 20]
    with pytest.raises(InputError, match="--subset"):
        parse_ks("x")


def test_jobs_gives_the_same_json(store, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("row,NMI,NMI2\naverage,0.9500,0.7000\nmax,0.9000,0.6500\n")
    outs = []
    for jobs in ("1", "2"):
        root = tmp_path / f"res{jobs}"
        shutil.copytree(store, root)
        (root / "synthetic" / "identify_cache.json").unlink(missing_ok=True)
        capsys.readouterr()
        assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(root),
                     "--quantities", "nmi", "--axes", "gray,jpeg,hist", "--subset", "3-4",
                     "--format", "json", "--top", "500", "--jobs", jobs]) == 0
        res = json.loads(capsys.readouterr().out)
        res.pop("timing")
        outs.append(res)
        assert (root / "synthetic" / "identify_cache.json").is_file()
    assert outs[0] == outs[1]
    assert set(outs[0]["subsets"]) == {"NMI", "NMI2"} and outs[0]["subsets"]["NMI"]["k"] == [3, 4]
