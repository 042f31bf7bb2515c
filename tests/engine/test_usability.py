"""Defects a new user trips over (issue 16, section 3); each test fails on the code before it.

1. identical infrared and visible refused (``--allow-identical`` to score anyway); a fused image
   equal to one source on most pixels gets a per-pair note, not an error;
2. ``--jobs`` 0/negative is an error, more than the CPU cores is capped with a note;
3. ``reproduce --dry-run`` prints a time estimate and the total;
4. every user error is a ``FusionbenchError`` and the documented built-in type;
5. GPU use documented in ``--help``; a bad ``FUSIONBENCH_DEVICE`` is a one-line error.
"""
from __future__ import annotations

import numpy as np
import pytest

import fusionbench
from fusionbench import errors
from fusionbench.cli import main
from fusionbench.imageio import write_png


@pytest.fixture
def folder_dataset(tmp_path, small_pair):
    """``ds/{ir,vi}``: pair ``a`` ordinary, pair ``same`` with the visible copied from the infrared."""
    ir, vi = (np.asarray(x, np.uint8) for x in small_pair)
    root = tmp_path / "ds"
    write_png(root / "ir" / "a.png", ir)
    write_png(root / "vi" / "a.png", vi)
    write_png(root / "ir" / "same.png", ir)
    write_png(root / "vi" / "same.png", ir)
    return root


# ---------------------------------------------------------------- 1. identical inputs
def test_evaluate_refuses_identical_sources(tmp_path, small_pair, capsys):
    ir = np.asarray(small_pair[0], np.uint8)
    write_png(tmp_path / "ir.png", ir)
    write_png(tmp_path / "copy.png", ir)
    write_png(tmp_path / "f.png", np.asarray(small_pair[1], np.uint8))
    for vi in ("ir.png", "copy.png"):          # the same file, and a pixel-identical copy
        assert main(["evaluate", str(tmp_path / "ir.png"), str(tmp_path / vi), str(tmp_path / "f.png"),
                     "--metrics", "nmi"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: evaluate: infrared and visible are identical") and "--allow-identical" in err
        assert "Traceback" not in err
    assert main(["evaluate", str(tmp_path / "ir.png"), str(tmp_path / "copy.png"), str(tmp_path / "f.png"),
                 "--metrics", "nmi", "--allow-identical"]) == 0
    with pytest.raises(ValueError, match="identical"):
        fusionbench.evaluate(ir, ir, ir, metrics=["nmi"], allow_identical=False)


def test_run_refuses_a_dataset_with_identical_pairs(tmp_path, folder_dataset, capsys):
    res = tmp_path / "r"
    assert main(["run", "--methods", "average", "--dataset", str(folder_dataset), "--metrics", "en",
                 "--results", str(res), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pair(s) same" in err and "identical" in err
    assert not (res / "ds").exists()                     # refused before any work
    assert main(["run", "--methods", "average", "--dataset", str(folder_dataset), "--metrics", "en",
                 "--results", str(res), "--no-progress", "--allow-identical"]) == 0


def test_fused_equal_to_a_source_gets_a_note_not_an_error(tmp_path, small_pair):
    from fusionbench.runner import run

    ir, vi = (np.asarray(x, np.uint8) for x in small_pair)
    root = tmp_path / "d"
    brighter = np.maximum(vi, ir).astype(np.uint8)       # max(IR, VI) is VI on >= 90% of pixels
    brighter[:3] = ir[:3]
    write_png(root / "ir" / "p.png", ir)
    write_png(root / "vi" / "p.png", brighter)
    frac = float(np.mean(np.maximum(ir, brighter) == brighter))
    assert frac >= 0.9
    logs: list[str] = []
    (s,) = run(["max"], str(root), metrics=["en"], results=tmp_path / "r", progress=False, log=logs.append)
    assert s.count("fused") == 1 and s.count("failed") == 0
    note = f"fused ≈ visible on {frac:.0%} of pixels"
    assert s.outcomes[0].note == note
    assert any(line.endswith(f"max {s.dataset}/p: {note}") for line in logs)
    (s,) = run(["average"], str(root), metrics=["en"], results=tmp_path / "r", progress=False, log=logs.append)
    assert s.outcomes[0].note == ""


# ---------------------------------------------------------------- 2. --jobs
@pytest.mark.parametrize("jobs", ["0", "-2", "x"])
def test_jobs_zero_negative_or_not_a_number_is_an_error(jobs, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--methods", "average", "--jobs", jobs])
    assert exc.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_jobs_above_the_cpu_count_is_capped_with_a_note(tmp_path):
    from fusionbench.runner import check_jobs, run, usable_cpus

    logs: list[str] = []
    assert check_jobs(10_000, logs.append) == usable_cpus()
    assert logs == [f"note: --jobs 10000 is more than the {usable_cpus()} CPU cores available; using {usable_cpus()}"]
    with pytest.raises(ValueError, match="positive"):
        run(["average"], "synthetic", jobs=0, results=tmp_path / "r", progress=False)
    logs.clear()
    run(["average"], "synthetic", metrics=["en"], jobs=10_000, results=tmp_path / "r", progress=False,
        pairs=["camera"], log=logs.append)
    assert any("is more than the" in m for m in logs)


# ---------------------------------------------------------------- 3. reproduce --dry-run estimate
def test_estimate_uses_recorded_fuse_seconds_else_the_cost_table():
    from fusionbench.reproduce import Task, estimate_seconds, method_costs

    costs = method_costs()
    t = Task(kind="fuse", dataset="tno", method="gff", total=21, todo=10)
    mp = costs["reference_megapixels"]
    metric_s = sum(costs["metrics"][m] for m in ("nmi", "ifc"))
    sec, basis = estimate_seconds(t, ["nmi", "ifc"], mp, costs=costs)
    assert basis == "cost table" and sec == pytest.approx(10 * (costs["methods"]["gff"] + metric_s))
    sec, basis = estimate_seconds(t, ["nmi", "ifc"], 2 * mp, recorded=[1.0, 3.0], costs=costs)
    assert basis == "store" and sec == pytest.approx(10 * (2.0 + 2 * metric_s))
    assert estimate_seconds(Task(kind="fuse", dataset="tno", method="gff", total=21, todo=0), ["nmi"], mp)[0] == 0
    tr = Task(kind="train", dataset="tno_train", method="ssl_waeie:no_wae", done=False)
    assert estimate_seconds(tr, [], None, costs=costs) == (costs["train"]["ssl_waeie"], "cost table")
    # every registered metric and every registered (non-published) method has a cost
    from fusionbench.registry import METRICS, ORIGIN, discover

    discover()
    package_metrics = {m for m in METRICS if ORIGIN["metrics"].get(m, "").startswith("fusionbench.metrics.")}
    package_methods = {m for m, o in ORIGIN["methods"].items() if o.startswith("fusionbench.methods.")}
    assert package_metrics <= set(costs["metrics"])
    assert package_methods <= set(costs["methods"])


def test_reproduce_dry_run_prints_estimates_and_total(data_root, tmp_path, capsys):
    assert main(["reproduce", "--tables", "1", "--dry-run", "--no-extras", "--results", str(tmp_path / "r"),
                 "--data-root", str(data_root)]) == 0
    err = capsys.readouterr().err
    tasks = [ln for ln in err.splitlines() if ln.strip().startswith("[") and " fuse " in ln]
    assert tasks and all("[~" in ln and ("cost table]" in ln or "store]" in ln) for ln in tasks)
    assert "estimated time ~" in err.splitlines()[-1]


# ---------------------------------------------------------------- 4. error types
def test_every_user_error_is_a_fusionbench_error_and_a_value_error():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert len(classes) >= 8
    for c in classes:
        assert issubclass(c, errors.FusionbenchError) and issubclass(c, ValueError), c
    assert issubclass(errors.UnknownNameError, KeyError)
    for c in (errors.DatasetNotFoundError, errors.MissingWeightsError, errors.MissingResultError):
        assert issubclass(c, FileNotFoundError)
        assert str(c("x.png: file not found")) == "x.png: file not found"
    assert str(errors.UnknownNameError("unknown metric 'foo'")) == "unknown metric 'foo'"


def test_api_raises_the_documented_types(small_pair):
    ir, vi = small_pair
    with pytest.raises(ValueError, match="unknown metric"):          # documented: ValueError
        fusionbench.evaluate(ir, vi, ir, metrics=["no_such_metric"])
    with pytest.raises(KeyError):
        fusionbench.evaluate(ir, vi, ir, metrics=["no_such_metric"])
    with pytest.raises(errors.InputError, match="metric ifc: .*72x72"):   # a metric's own check
        fusionbench.evaluate(ir[:40, :40], vi[:40, :40], ir[:40, :40], metrics=["ifc"])
    with pytest.raises(FileNotFoundError):
        from fusionbench.data import load_dataset

        load_dataset("tno", root="/nonexistent-root")


def test_cli_small_image_metric_error_is_one_line(tmp_path, small_pair, capsys):
    ir, vi = (np.asarray(x, np.uint8)[:40, :40] for x in small_pair)
    for n, a in (("ir", ir), ("vi", vi), ("f", vi)):
        write_png(tmp_path / f"{n}.png", a)
    rc = main(["evaluate", *(str(tmp_path / f"{n}.png") for n in ("ir", "vi", "f")), "--metrics", "ifc"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: metric ifc:") and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- 5. GPU documentation
def test_help_documents_gpu_use(capsys):
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        assert "FUSIONBENCH_DEVICE" in out and "CUDA" in out


def test_bad_fusionbench_device_is_a_one_line_error(monkeypatch):
    pytest.importorskip("torch")
    from fusionbench.methods import _nets

    monkeypatch.setenv("FUSIONBENCH_DEVICE", "nonsense")
    with pytest.raises(errors.InputError, match="FUSIONBENCH_DEVICE='nonsense' is not a torch device"):
        _nets.device()
    monkeypatch.setenv("FUSIONBENCH_DEVICE", "cpu")
    assert str(_nets.device()) == "cpu"
