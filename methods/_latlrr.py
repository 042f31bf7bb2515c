"""Latent low-rank representation (LatLRR) and the learning of MDLatLRR's projection matrix.

LatLRR (Liu & Yan, ICCV 2011) solves::

    min_{Z, L, E} ||Z||_* + ||L||_* + lam ||E||_1   s.t.  X = X Z + L X + E

by the inexact augmented Lagrange multiplier method, as ``latent_lrr.m`` in
hli1221/imagefusion_mdlatlrr (``tol = 1e-6``, ``rho = 1.1``, ``mu`` from ``1e-6`` up to ``1e6``).
``X`` is ``d x n`` (here 256 x 2000 patch vectors), so the original spends its time on the SVD of
the ``n x n`` matrix ``Z + Y2 / mu`` every iteration. Here the iteration runs in a reduced but
*equivalent* form: with ``X = U S V^T`` (``V``: ``n x r``), the iterates ``Z``, ``J`` and ``Y2``
always have the form ``V W`` (true at the zero start, and each update keeps it), and
``SVT(V W) = V SVT(W)`` because ``V`` has orthonormal columns. So only the ``r x n`` factors are
stored and decomposed; ``X Z = U S W_Z``; and ``(X^T X + I)^{-1}`` acts on ``V`` as
``(S^2 + I)^{-1}``. The ``d x d`` variables ``L`` and ``S`` and the ``d x n`` ``E`` are as in the
original.

Patch selection follows ``train_choose_detail.m``/``train_latent_matrix.m``: every image of the
training set (IR and VI alike), cropped to a multiple of 16, cut into distinct 16x16 blocks on the
0..1 scale; blocks with ``||p - mean(p)||_2 > 0.5`` are "detail", the others "smooth" (all-zero
blocks dropped); 1000 of each are drawn at random and shuffled. MATLAB's unseeded ``randperm`` is
replaced by ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from fusionbench.errors import InputError

UNIT = 16
LAMBDA = 0.4
N_DETAIL = 1000
N_SMOOTH = 1000
SD_THRESHOLD = 0.5
DEFAULT_SEED = 20200301
MAX_ITER = 2000


def _svt(a: np.ndarray, thresh: float) -> np.ndarray:
    """Singular value thresholding as ``latent_lrr.m`` (rank-1 zero when nothing survives)."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    keep = int(np.count_nonzero(s > thresh))
    if keep == 0:
        return np.zeros_like(a)
    return (u[:, :keep] * (s[:keep] - thresh)) @ vt[:keep]


def latent_lrr(x: np.ndarray, lam: float = LAMBDA, *, tol: float = 1e-6, rho: float = 1.1,
               mu: float = 1e-6, max_mu: float = 1e6, max_iter: int = MAX_ITER,
               verbose: bool = False) -> tuple[np.ndarray, dict]:
    """Solve LatLRR for ``x`` (``d x n``); returns the salient projection ``L`` (``d x d``) and info.

    ``info`` has ``iterations``, ``converged`` and the final ``residual`` (max-abs constraint
    violation, the original's stopping quantity).
    """
    x = np.asarray(x, np.float64)
    d, n = x.shape
    u, sv, vt = np.linalg.svd(x, full_matrices=False)
    r = int(np.count_nonzero(sv > sv[0] * max(d, n) * np.finfo(float).eps))
    u, sv, v = u[:, :r], sv[:r], vt[:r].T  # x = u diag(sv) v^T, v: n x r
    inv_b = np.linalg.inv(x @ x.T + np.eye(d))
    shrink = 1.0 / (sv ** 2 + 1.0)

    wz = np.zeros((r, n))
    wj = np.zeros((r, n))
    wy2 = np.zeros((r, n))
    lmat = np.zeros((d, d))
    smat = np.zeros((d, d))
    e = np.zeros((d, n))
    y1 = np.zeros((d, n))
    y3 = np.zeros((d, d))
    it = 0
    stop = np.inf
    converged = False
    t0 = time.time()
    while it < max_iter:
        it += 1
        wj = _svt(wz + wy2 / mu, 1.0 / mu)
        smat = _svt(lmat + y3 / mu, 1.0 / mu)
        m = x - lmat @ x - e + y1 / mu
        wz = shrink[:, None] * (sv[:, None] * (u.T @ m) + wj - wy2 / mu)
        xz = u @ (sv[:, None] * wz)
        lmat = ((x - xz - e) @ x.T + smat + (y1 @ x.T - y3) / mu) @ inv_b
        xmaz = x - xz - lmat @ x
        tmp = xmaz + y1 / mu
        e = np.maximum(0.0, tmp - lam / mu) + np.minimum(0.0, tmp + lam / mu)
        leq1 = xmaz - e
        dw = wz - wj
        leq3 = lmat - smat
        stop = max(np.abs(leq1).max(), np.abs(leq3).max())
        if stop < tol:  # the n x n residual Z - J = V dw is only formed when it can decide
            stop = max(stop, np.abs(v @ dw).max())
        if verbose and (it % 25 == 0 or stop < tol):
            print(f"  iter {it:4d}  mu {mu:9.3g}  residual {stop:.3g}  ({time.time() - t0:.0f} s)", flush=True)
        if stop < tol:
            converged = True
            break
        y1 = y1 + mu * leq1
        wy2 = wy2 + mu * dw
        y3 = y3 + mu * leq3
        mu = min(max_mu, mu * rho)
    return lmat, {"iterations": it, "converged": converged, "residual": float(stop)}


def _image_files(folder: Path) -> list[Path]:
    from fusionbench.imageio import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _distinct_blocks(img: np.ndarray) -> np.ndarray:
    """MATLAB ``im2col(img, [16 16], 'distinct')`` of the image cropped to multiples of 16.

    Columns are column-major block vectors, blocks ordered down the image columns first.
    """
    h, w = (s // UNIT * UNIT for s in img.shape)
    a = img[:h, :w].reshape(h // UNIT, UNIT, w // UNIT, UNIT)  # (bi, r, bj, c)
    return a.transpose(3, 1, 2, 0).reshape(UNIT * UNIT, -1)  # (c, r) rows; (bj, bi) columns


def training_patches(folder: Path, *, seed: int = DEFAULT_SEED, n_detail: int = N_DETAIL,
                     n_smooth: int = N_SMOOTH) -> tuple[np.ndarray, dict]:
    """Sample the LatLRR training matrix (256 x (n_detail + n_smooth), 0..1 scale) from a pair folder.

    ``folder`` holds ``ir/`` and ``vi/`` (all images of both are used, as the authors' training
    folder mixes both modalities), or images directly.
    """
    from fusionbench.imageio import read_image, rgb2gray

    folder = Path(folder)
    subs = [folder / "ir", folder / "vi"]
    dirs = [s for s in subs if s.is_dir()] or [folder]
    if not folder.is_dir():
        raise InputError(f"{folder}: training folder not found")
    files = [f for dd in dirs for f in _image_files(dd)]
    if not files:
        raise InputError(f"{folder}: no training images found")
    blocks = []
    for f in files:
        img = np.asarray(rgb2gray(read_image(f, collapse_gray=True)), np.float64) / 255.0
        if min(img.shape) >= UNIT:
            blocks.append(_distinct_blocks(img))
    b = np.concatenate(blocks, axis=1)
    sd = np.sqrt(((b - b.mean(axis=0)) ** 2).sum(axis=0))
    detail = b[:, sd > SD_THRESHOLD]
    smooth = b[:, (sd <= SD_THRESHOLD) & np.any(b != 0, axis=0)]
    if detail.shape[1] < n_detail or smooth.shape[1] < n_smooth:
        raise InputError(f"{folder}: too few patches ({detail.shape[1]} detail, {smooth.shape[1]} smooth) "
                         f"for {n_detail} + {n_smooth}")
    rng = np.random.default_rng(seed)
    pick = np.concatenate([detail[:, rng.permutation(detail.shape[1])[:n_detail]],
                           smooth[:, rng.permutation(smooth.shape[1])[:n_smooth]]], axis=1)
    pick = pick[:, rng.permutation(pick.shape[1])]
    info = {"images": len(files), "blocks": int(b.shape[1]), "detail_blocks": int(detail.shape[1]),
            "smooth_blocks": int(smooth.shape[1])}
    return pick, info


def learn_projection_file(folder: Path, out: Path, *, seed: int = DEFAULT_SEED, n_detail: int = N_DETAIL,
                          n_smooth: int = N_SMOOTH, lam: float = LAMBDA, max_iter: int = MAX_ITER) -> dict:
    """Sample patches from ``folder``, run LatLRR, save ``L`` and its provenance to ``out`` (.npz)."""
    x, pinfo = training_patches(folder, seed=seed, n_detail=n_detail, n_smooth=n_smooth)
    t0 = time.time()
    lmat, linfo = latent_lrr(x, lam, max_iter=max_iter, verbose=True)
    meta = {"data": str(Path(folder).name), "patch": UNIT, "sd_threshold": SD_THRESHOLD,
            "n_detail": n_detail, "n_smooth": n_smooth, "seed": seed, "lambda": lam,
            "solver": "inexact ALM, tol 1e-6, rho 1.1, mu 1e-6..1e6 (reduced form)",
            "seconds": round(time.time() - t0, 1), **pinfo, **linfo}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, L=lmat, meta=np.array(json.dumps(meta, sort_keys=True)))
    return meta
