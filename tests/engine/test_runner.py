"""Runner and result store: outputs, resume, cache invalidation, jobs, determinism."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fusionbench.errors import StoreError
from fusionbench.imageio import read_image
from fusionbench.registry import METHODS, register_method
from fusionbench.runner import run
from fusionbench.store import ResultStore

CALLS = {"n": 0}

if "_t_counted" not in METHODS:
    @register_method("_t_counted", description="test double that counts its calls", params={"gain": 1.0})
    def _t_counted(ir, vi, gain):
        CALLS["n"] += 1
        return np.clip((ir + vi) / 2 * gain, 0, 255)


def _run(store_dir, **kw):
    kw.setdefault("metrics", "en,sd")
    return run(kw.pop("methods", "average"), kw.pop("dataset", "synthetic"), results=store_dir,
               progress=False, log=lambda m: None, **kw)


def test_run_writes_pngs_and_scores(store_dir):
    (s,) = _run(store_dir, methods="average")
    df = pd.read_csv(s.scores_path, dtype={"pair": str})
    assert list(df.columns) == ["pair", "en", "sd"] and len(df) == 4
    pngs = sorted((store_dir / "synthetic" / "average" / "fused").glob("*.png"))
    assert [p.stem for p in pngs] == sorted(df.pair)
    assert s.count("fused") == 4


def test_saved_png_is_round_half_up_of_method_output(store_dir):
    from fusionbench.data import load_dataset

    _run(store_dir, methods="average")
    pairs = load_dataset("synthetic").pairs
    p = pairs[0]
    expect = np.floor((p.ir() + p.vi()) / 2 + 0.5).astype(np.uint8)
    got = read_image(store_dir / "synthetic" / "average" / "fused" / f"{p.name}.png")
    assert np.array_equal(got, expect)


def test_second_run_recomputes_nothing(store_dir):
    CALLS["n"] = 0
    _run(store_dir, methods="_t_counted")
    assert CALLS["n"] == 4
    before = (store_dir / "synthetic" / "_t_counted" / "scores.csv").read_bytes()
    (s,) = _run(store_dir, methods="_t_counted")
    assert CALLS["n"] == 4 and s.count("reused") == 4
    assert sum(o.metrics_computed for o in s.outcomes) == 0
    assert (store_dir / "synthetic" / "_t_counted" / "scores.csv").read_bytes() == before


def test_changed_parameter_recomputes(store_dir):
    CALLS["n"] = 0
    _run(store_dir, methods="_t_counted")
    (s,) = _run(store_dir, methods="_t_counted", method_params={"gain": 1.5})
    assert CALLS["n"] == 8 and s.count("fused") == 4


def test_new_metric_only_computes_that_metric(store_dir):
    CALLS["n"] = 0
    _run(store_dir, methods="_t_counted", metrics="en")
    (s,) = _run(store_dir, methods="_t_counted", metrics="en,sd")
    assert CALLS["n"] == 4
    assert [o.metrics_computed for o in s.outcomes] == [1, 1, 1, 1]
    assert list(pd.read_csv(s.scores_path).columns) == ["pair", "en", "sd"]


def test_tampered_png_is_recomputed(store_dir):
    CALLS["n"] = 0
    _run(store_dir, methods="_t_counted")
    png = next((store_dir / "synthetic" / "_t_counted" / "fused").glob("*.png"))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(png)
    (s,) = _run(store_dir, methods="_t_counted")
    assert CALLS["n"] == 5 and s.count("fused") == 1


def test_jobs_give_identical_scores(tmp_path):
    (a,) = _run(tmp_path / "a", methods="average", jobs=1)
    (b,) = _run(tmp_path / "b", methods="average", jobs=2)
    assert a.scores_path.read_bytes() == b.scores_path.read_bytes()


def test_store_from_another_version_is_refused(store_dir):
    store_dir.mkdir(parents=True)
    (store_dir / "fusionbench-store.json").write_text('{"store_version": 99}')
    with pytest.raises(StoreError, match="version 99"):
        ResultStore(store_dir)


def test_published_adapter_reports_missing(tmp_path, data_root):
    logs = []
    (s,) = run("published:DIDFuse", "tno", root=data_root, results=tmp_path / "r", metrics="en",
               progress=False, log=logs.append)
    assert s.count("missing") == 6 and s.count("fused") == 15  # DIDFuse published 15 of 21 TNO pairs
    assert any("missing" in m and "/01" in m for m in logs)
    assert len(pd.read_csv(s.scores_path)) == 15


def test_roadscene_split_folders(tmp_path, data_root):
    (s,) = run("average", "roadscene", root=data_root, results=tmp_path / "r", metrics="en",
               progress=False, log=lambda m: None)
    assert s.dataset == "roadscene" and len(s.outcomes) == 20


def test_runner_gives_vifb_metrics_the_images_as_read(tmp_path, data_root, reference_dir):
    """`run` on published colour results reproduces VIFB's own values: the raw metrics see the
    stored files (3 channels where the file has 3), not a gray conversion."""
    import math

    ref = pd.read_csv(reference_dir / "vifb_metrics.csv")
    ref = ref[(ref.image == "kettle") & (ref.method == "MGFF")].set_index("metric").value
    (s,) = run("published:MGFF", "vifb", root=data_root, results=tmp_path / "r", preset="vifb",
               pairs=["kettle"], progress=False, log=lambda m: None)
    got = pd.read_csv(s.scores_path, dtype={"pair": str}).set_index("pair").loc["kettle"]
    names = {"Entropy": "vifb:en", "Spatial_frequency": "vifb:sf", "Qabf": "vifb:qabf", "Ssim": "vifb:ssim",
             "Qcb": "vifb:qcb", "Mutinf": "vifb:mi"}
    for vifb_name, ours in names.items():
        r = ref[vifb_name]
        tol = 0.5 * 10.0 ** (math.floor(math.log10(abs(r))) - 4) + 3e-5 * abs(r)
        assert abs(got[ours] - r) <= tol, (ours, got[ours], r)


if "_t_weighted" not in METHODS:
    def _resolve(params):
        import os
        return {**params, "weights": params.get("weights") or os.environ["T_WEIGHTS"]}

    @register_method("_t_weighted", description="test double reading a weights file", params={"weights": None},
                     resolve_params=_resolve)
    def _t_weighted(ir, vi, weights=None):
        import os
        gain = float(open(weights or os.environ["T_WEIGHTS"]).read())
        return np.clip((ir + vi) / 2 * gain, 0, 255)


def test_implicit_weights_file_content_is_part_of_the_cache_key(store_dir, tmp_path, monkeypatch):
    w = tmp_path / "w.txt"
    w.write_text("1.0")
    monkeypatch.setenv("T_WEIGHTS", str(w))
    (a,) = _run(store_dir, methods="_t_weighted")
    (b,) = _run(store_dir, methods="_t_weighted")
    assert a.count("fused") == 4 and b.count("reused") == 4
    w.write_text("0.5")  # "retrained" in place: same path, new content
    (c,) = _run(store_dir, methods="_t_weighted")
    assert c.count("fused") == 4


def test_weights_override_goes_only_to_methods_that_take_it(store_dir, tmp_path, monkeypatch):
    from fusionbench.errors import InputError

    w = tmp_path / "w.txt"
    w.write_text("0.5")
    monkeypatch.setenv("T_WEIGHTS", str(tmp_path / "absent"))
    out = _run(store_dir, methods="average,_t_weighted", method_params={"weights": str(w)})
    assert [s.count("fused") for s in out] == [4, 4]
    with pytest.raises(InputError, match="has a parameter 'weights'"):
        _run(store_dir, methods="average,max", method_params={"weights": str(w)})


def test_published_on_a_split_reads_the_dataset_folder(tmp_path, data_root):
    """`roadscene --split all` is stored as roadscene-all, yet published images are read from
    results/roadscene/ (the dataset's own folder)."""
    (s,) = run("published:DIDFuse", "roadscene", split="all", root=data_root, results=tmp_path / "r",
               metrics="en", pairs=["FLIR_00977"], progress=False, log=lambda m: None)
    assert s.dataset == "roadscene-all" and s.count("fused") == 1


def test_on_pair_callback_sees_every_pair(store_dir):
    seen = []
    _run(store_dir, methods="average", on_pair=seen.append)
    assert [o.status for o in seen] == ["fused"] * 4
    seen.clear()
    _run(store_dir, methods="average", jobs=2, on_pair=seen.append)
    assert sorted(o.pair for o in seen) == ["astronaut", "camera", "chelsea", "coffee"]
    assert {o.status for o in seen} == {"reused"}


def test_methods_run_pair_by_pair_so_source_caches_serve_every_method(store_dir):
    """Serial run of three methods: each pair's tasks are consecutive, and qabf_liu's cache of
    the sources' gradients is built once per pair (a miss per source), hit by the other methods."""
    from fusionbench.metrics.qabf import SOURCE_GRADIENTS

    SOURCE_GRADIENTS.clear()
    seen = []
    _run(store_dir, methods="average,max,_t_counted", metrics="qabf_liu", on_pair=seen.append)
    pairs = [o.pair for o in seen]
    assert pairs == [p for p in dict.fromkeys(pairs) for _ in range(3)]
    assert SOURCE_GRADIENTS.misses == 2 * 4
    assert SOURCE_GRADIENTS.hits == 2 * 4 * 2
