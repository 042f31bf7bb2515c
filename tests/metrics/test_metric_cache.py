"""Issue 22: shared IFC/VIF decompositions and the once-per-triple validation of ``evaluate``."""
from __future__ import annotations

import numpy as np
import pytest

from fusionbench.api import evaluate
from fusionbench.errors import InputError
from fusionbench.imageio import check_images, validated
from fusionbench.metrics import ifc as I
from fusionbench.metrics import qabf as Q
from fusionbench.metrics._memo import ContentLRU, clear_all


def _pair(seed: int = 3, shape: tuple[int, int] = (96, 120)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ir = np.round(rng.uniform(0, 255, shape))
    vi = np.round(np.clip(0.6 * ir + rng.normal(0, 30, shape), 0, 255))
    return ir, vi


def _uncached(ir, vi, f, want_ifc=True, want_vif=True):
    out = {}
    dist = I._Decomposed(f)
    for name, src in (("ir", ir), ("vi", vi)):
        out[f"ifc.{name}"], out[f"vif.{name}"] = I._ifc_vif(I._Decomposed(src), dist, want_ifc, want_vif)
    return out


def test_cached_values_are_bit_identical_and_sources_reused():
    ir, vi = _pair()
    I.DECOMPOSITIONS.clear()
    fused = [np.floor((ir + vi + 1) / 2), np.maximum(ir, vi), 0.25 * ir + 0.75 * vi]
    for f in fused:
        got = I.ifc_vif_parts(ir, vi, f)
        assert got == _uncached(ir, vi, f)
    # 2 sources + 3 fused decomposed once each; the sources hit for the 2nd and 3rd fused image
    assert I.DECOMPOSITIONS.misses == 5 and I.DECOMPOSITIONS.hits == 4
    v = evaluate(ir, vi, fused[0], ["ifc", "vif"], parts=True)      # vif reuses ifc's pyramids
    assert v["ifc.ir"] == _uncached(ir, vi, fused[0])["ifc.ir"]
    assert I.DECOMPOSITIONS.misses == 5


def test_cache_is_keyed_by_content_not_identity():
    ir, vi = _pair(5)
    f = np.floor((ir + vi + 1) / 2)
    I.DECOMPOSITIONS.clear()
    before = I.ifc_vif_parts(ir, vi, f)
    f[10:40, 10:40] = 255 - f[10:40, 10:40]                        # same object, new pixels
    after = I.ifc_vif_parts(ir, vi, f)
    assert after != before and after == _uncached(ir, vi, f)


def test_cache_is_bounded():
    c = ContentLRU(I._Decomposed, max_entries=2)
    ir, vi = _pair(7)
    for img in (ir, vi, np.floor((ir + vi) / 2)):
        c.get(img)
    assert len(c._items) == 2 and c.misses == 3
    tiny = ContentLRU(I._Decomposed, max_bytes=1)
    tiny.get(ir)
    assert len(tiny._items) == 0


def test_validated_trusts_only_the_same_objects():
    a = np.full((8, 8), 300.0)                                      # out of range on purpose
    with validated(a):
        assert check_images(a, names=("fused",))[0] is a           # trusted: not re-checked
        with pytest.raises(InputError, match="outside 0..255"):
            check_images(a.copy(), names=("fused",))                # a copy is checked
    with pytest.raises(InputError, match="outside 0..255"):
        check_images(a, names=("fused",))                           # outside the block: checked
    b = np.zeros((8, 8))
    b[2, 2] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        check_images(b, names=("fused",))
    b[2, 2] = -np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        check_images(b, names=("fused",))


def test_evaluate_still_rejects_bad_input_and_makes_no_copy():
    ir, vi = _pair(9)
    f = np.floor((ir + vi + 1) / 2)
    bad = f.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="fused contains NaN"):
        evaluate(ir, vi, bad, ["sd"])
    assert check_images(f, names=("fused",))[0] is f               # float64 contiguous: no copy
    assert evaluate(ir, vi, f, ["sd", "en"]) == evaluate(ir.astype(np.uint8), vi.astype(np.uint8),
                                                          f.astype(np.uint8), ["sd", "en"])


@pytest.mark.parametrize("form", ["QABF_LIU", "QABF_VIFB"])
def test_qabf_source_gradients_cached_bit_identical(form):
    form = getattr(Q, form)
    ir, vi = _pair(11, (130, 90))
    fused = (np.floor((ir + vi + 1) / 2), np.maximum(ir, vi), 0.3 * ir + 0.7 * vi)
    cold = []
    for f in fused:
        clear_all()                                                 # every image from scratch
        cold.append(Q.qabf(ir, vi, f, **form))
    clear_all()
    assert [Q.qabf(ir, vi, f, **form) for f in fused] == cold      # sources from the cache
    assert Q.SOURCE_GRADIENTS.misses == 2 and Q.SOURCE_GRADIENTS.hits == 4
    Q.qabf(ir, vi, fused[0], **(Q.QABF_VIFB if form is Q.QABF_LIU else Q.QABF_LIU))
    assert Q.SOURCE_GRADIENTS.misses == 4                           # the other form: its own entries


def test_qy_source_stats_cached_and_not_aliased():
    from fusionbench.metrics import qy as Y

    ir, vi = _pair(13, (120, 100))
    vi = vi * 0.97                                                  # non-integral source too
    f = np.floor((ir + vi + 1) / 2)
    clear_all()
    fresh = Y.qy(ir, vi, f)
    assert Y.qy(ir, vi, f) == fresh and Y.SOURCE_STATS.hits == 1
    ir2 = ir.copy()
    before = Y.qy(ir2, vi, f)
    ir2[:50] = 255 - ir2[:50]                                       # the cache kept copies, not views
    clear_all()
    assert Y.qy(ir, vi, f) == before == fresh
    assert Y.qy(ir2, vi, f) != fresh


def test_same_images_hashes_each_object_once():
    from fusionbench.metrics import _memo

    a = np.arange(12.0).reshape(3, 4)
    k = _memo.content_key(a)
    with _memo.same_images():
        assert _memo.content_key(a) == k
        a[0, 0] = 99.0                       # memoised by object inside the block (documented)
        assert _memo.content_key(a) == k
    assert _memo.content_key(a) != k         # outside it: by content again


@pytest.mark.parametrize("metric", ["qy", "ifc", "vif", "qabf", "qabf_liu", "nmi"])
def test_metrics_leave_the_callers_arrays_writeable(metric):
    """The caches freeze what they keep: never the caller's own arrays (qy's source statistics
    used to hold the source image itself, so the first call made it read-only)."""
    ir, vi = _pair(17, (90, 96))
    f = np.floor((ir + vi + 1) / 2)
    clear_all()
    evaluate(ir, vi, f, [metric])
    assert ir.flags.writeable and vi.flags.writeable and f.flags.writeable
    ir[0, 0] = 255.0 - ir[0, 0]
