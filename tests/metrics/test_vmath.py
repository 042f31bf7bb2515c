"""Issue 22: the vectorised ``exp``/``atan`` of ``metrics/_vmath.py`` against the C library.

Bit for bit against ``math.exp``/``math.atan`` (the C library's functions; ``np.exp`` and
``np.arctan`` call them too where numpy has no SIMD version) where the library is glibc on
x86_64 with FMA (its ``__exp_fma`` is what is reproduced; the ``atan`` margins rest on the
error bounds glibc's ``atan`` states); elsewhere to 1 ulp. Seeded random inputs over the
ranges Q_ABF uses plus the branch boundaries and special values.
"""
from __future__ import annotations

import math
import platform
from pathlib import Path

import numpy as np
import pytest

from fusionbench.metrics import _vmath as V


def _glibc_fma() -> bool:
    if platform.machine() != "x86_64" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "fma" in flags and "avx2" in flags


EXACT = _glibc_fma()


def _libm(fn, x: np.ndarray) -> np.ndarray:
    return np.fromiter(map(fn, x.tolist()), dtype=np.float64, count=x.size)


def _exp_ref(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in representable doubles (same sign assumed), NaN == NaN."""
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.abs(a.view(np.int64) - b.view(np.int64))
    return np.where(both_nan | (a == b), 0, d)


def _check(got: np.ndarray, want: np.ndarray) -> None:
    if EXACT:
        same = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (np.flatnonzero(~same)[:5], got[~same][:5], want[~same][:5])
    else:                                                     # pragma: no cover
        assert _ulps(got, want).max() <= 1


EXP_EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-300, 2.0 ** -54,
             -(2.0 ** -54), 2.0 ** -54 * (1 - 2.0 ** -53), 512.0, -512.0, 1024.0, -1024.0,
             709.782712893384, 709.7827128933841, 710.0, -708.3964185322641, -708.39641853226,
             -745.1332191019411, -745.1332191019412, -744.0, -1e308, 1e308, -40.0, 30.0]


def test_exp_is_glibcs_on_the_q_abf_range_and_edges():
    rng = np.random.default_rng(22)
    x = np.concatenate([rng.uniform(-40, 30, 600_000), rng.uniform(-8000, 30, 200_000),
                        rng.uniform(-1100, -500, 100_000), rng.uniform(500, 720, 20_000),
                        np.exp(rng.uniform(-60, 2, 50_000)) * rng.choice([-1.0, 1.0], 50_000),
                        rng.integers(0, 2 ** 64, 50_000, dtype=np.uint64).view(np.float64),
                        np.array(EXP_EDGES)])
    out = np.empty_like(x)
    V.exp_into(x, out, x.size)
    want = _libm(_exp_ref, x)
    _check(out, want)
    edges = np.array(EXP_EDGES)
    _check(np.array([V.exp(v) for v in edges]), want[-edges.size:])
    assert out[-len(EXP_EDGES):][1] == 1.0 and V.exp(-np.inf) == 0.0 and V.exp(-1e4) == 0.0


def test_one_plus_exp_is_one_below_minus_40():
    """Q_ABF needs ``1 + exp(x)`` only: 1 exactly once exp(x) < 2^-54 (kept exact anyway)."""
    x = -np.geomspace(40.0, 8000.0, 10_000)
    out = np.empty_like(x)
    V.exp_into(x, out, x.size)
    assert np.all(1.0 + out == 1.0) and np.all(out < 2.0 ** -54)


def test_exp_table_is_two_to_the_i_over_128():
    assert V._TAIL[0] == 0.0 and V._SBITS[0] == np.float64(1.0).view(np.int64)
    h = (V._SBITS + (np.arange(128) << 45)).view(np.float64)          # H = 2^(i/128) rounded
    assert _ulps(h, np.exp2(np.arange(128) / 128)).max() <= 1 and np.all(np.abs(V._TAIL) < 2.0 ** -53)


ATAN_EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 2.0 ** -27, 1.2904777690891933e-08,
              float(np.nextafter(1.2904777690891933e-08, 0)), 0.0625, float(np.nextafter(0.0625, 0)),
              1.0, float(np.nextafter(1.0, 0)), 16.0, float(np.nextafter(16.0, 0)), 5805361265115136.0,
              5805361265115135.0, 1e300, 2.0 ** 54, 1 / 64, 63 / 64, 65 / 128, -1.0, -1e5 / 1e-5]


def test_atan_is_glibcs_on_sobel_ratios_and_edges():
    rng = np.random.default_rng(23)
    x = np.concatenate([rng.uniform(-1, 1, 300_000), np.tan(rng.uniform(-np.pi / 2, np.pi / 2, 300_000)),
                        rng.integers(-1020, 1021, 300_000) / rng.integers(1, 1021, 300_000),
                        rng.integers(-4000, 4001, 50_000) / 1e-5,
                        rng.integers(0, 2 ** 64, 50_000, dtype=np.uint64).view(np.float64),
                        np.array(ATAN_EDGES)])
    out = np.empty_like(x)
    V.atan_into(x, out, x.size)
    _check(out, _libm(math.atan, x))
    edges = np.array(ATAN_EDGES)
    _check(np.array([V.atan(v) for v in edges]), _libm(math.atan, edges))
    assert V.atan(np.inf) == np.pi / 2 and V.atan(-np.inf) == -np.pi / 2
    assert math.copysign(1.0, V.atan(-0.0)) == -1.0


def test_atan_tables_are_the_rounded_values():
    k = np.arange(65) / 64
    assert _ulps(V._ATAN_HI, np.arctan(k)).max() <= 1
    assert np.all(np.abs(V._ATAN_LO) <= np.spacing(np.maximum(V._ATAN_HI, 1e-300)) / 2)
    assert V._ATAN_HI[64] == np.pi / 4 and V._ATAN_LO[64] == V._PIO2_LO / 2
    assert V._PIO2_HI == np.pi / 2 and 6.1e-17 < V._PIO2_LO < 6.2e-17


@pytest.mark.skipif(not EXACT, reason="AVX2/FMA vector code is checked on x86_64 with FMA")
def test_exp_and_atan_loops_are_vectorised():
    """The row loops compile to 4-wide double vectors (``llvm.fma.v4f64``)."""
    import numba  # noqa: PLC0415

    for fn in (V.exp_into, V.atan_into):
        plain = numba.njit(cache=False, error_model="numpy")(fn.py_func)
        z = np.ones(8)
        plain(z, z.copy(), 8)
        ir = next(iter(plain.inspect_llvm().values()))
        assert "<4 x double> @llvm.fma.v4f64" in ir, fn.__name__
