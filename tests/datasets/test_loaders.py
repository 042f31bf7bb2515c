"""Dataset loaders against the real data root, and the deterministic synthetic set."""
from __future__ import annotations

import numpy as np
import pytest

from fusionbench.data import load_dataset, validate_pairs
from fusionbench.errors import DatasetNotFoundError


def test_synthetic_is_deterministic_and_valid():
    a = load_dataset("synthetic").pairs
    b = load_dataset("synthetic").pairs
    assert len(a) == 4
    validate_pairs(a, "synthetic")
    for p, q in zip(a, b):
        assert np.array_equal(p.ir_raw(), q.ir_raw()) and np.array_equal(p.vi_raw(), q.vi_raw())
        assert p.ir_raw().dtype == np.uint8 and p.ir_raw().ndim == 2
    # warm targets: the infrared's hottest pixels are far brighter than its median
    ir = a[0].ir()
    assert np.percentile(ir, 99.5) - np.median(ir) > 60
    # low light: the visible is darker than the source photo on average
    assert a[1].vi().mean() < 110
    assert a[1].vi_rgb() is not None  # astronaut stays colour


@pytest.mark.parametrize("name, n, first", [("tno", 21, "01"), ("tno_train", 20, "bayes_02"),
                                            ("vifb", 21, "carLight"), ("roadscene", 20, "FLIR_00977")])
def test_real_loaders(data_root, name, n, first):
    ref = load_dataset(name, root=data_root)
    label, pairs = ref.label, list(ref.pairs)
    assert len(pairs) == n and pairs[0].name == first and label == name
    validate_pairs(pairs[:3], name)


def test_roadscene_all_split_and_colour(data_root):
    pairs = load_dataset("roadscene", root=data_root, split="all").pairs
    assert len(pairs) == 221
    p = pairs[0]
    assert p.vi_raw().ndim == 3 and p.vi().ndim == 2 and p.vi().dtype == np.float64


def test_tno_test_and_train_are_disjoint(data_root):
    test = load_dataset("tno", root=data_root).pairs
    train = load_dataset("tno_train", root=data_root).pairs
    test_px = {p.ir_raw().tobytes() for p in test}
    assert not any(p.ir_raw().tobytes() in test_px for p in train)


def test_missing_dataset_message(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"looked for .*tno/ir.*Get it from"):
        load_dataset("tno", root=tmp_path)
