"""Time SSL-WAEIE training steps and inference; project the default recipe's training time.

Usage: python benchmarks/train_ssl_waeie.py [--threads N] [--steps K] [--data-root DIR]

Prints seconds per optimisation step for each phase (default config: batch 8 of 64x64 patches),
the projected wall time of the default recipe (``wae_epochs`` + ``cien_epochs`` image-area
epochs of ``tno_train``), the machine load average, and the inference time on a 768x576 pair.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from fusionbench.methods.ssl_waeie import fuse_arrays
from fusionbench.methods.ssl_waeie import losses as L
from fusionbench.methods.ssl_waeie.model import SSLConfig, build

TNO_TRAIN_PIXELS = 5_231_680  # total pixel count of the 20 tno_train pairs (see the data MANIFEST)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SSLConfig()
    m = build(cfg)
    g = torch.Generator().manual_seed(0)
    ir = torch.rand(cfg.batch, 1, cfg.patch, cfg.patch, generator=g)
    vi = torch.rand(cfg.batch, 1, cfg.patch, cfg.patch, generator=g)
    per = {}
    for phase in (1, 2):
        opt = torch.optim.Adam(m.parameters(), cfg.lr, betas=cfg.betas)
        times = []
        for _ in range(args.steps + 1):
            t = time.perf_counter()
            if phase == 1:
                loss = L.wae_loss(*m.wae(ir, vi), ir, vi, cfg.lam)["total"]
            else:
                loss = L.cien_loss(m(ir, vi), ir, vi, mu=cfg.mu)["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        per[phase] = float(np.median(times[1:]))
    spe = math.ceil(TNO_TRAIN_PIXELS / (cfg.patch ** 2 * cfg.batch))
    n1, n2 = round(cfg.wae_epochs * spe), round(cfg.cien_epochs * spe)
    total = n1 * per[1] + n2 * per[2]
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.2f}, "
          f"params {sum(p.numel() for p in m.parameters())}")
    print(f"phase 1 (WAE):  {per[1]:.3f} s/step x {n1} steps")
    print(f"phase 2 (CIEN): {per[2]:.3f} s/step x {n2} steps")
    print(f"projected default recipe: {total / 60:.1f} min")
    m.eval()
    a = np.random.default_rng(0).uniform(0, 255, (576, 768))
    t = time.perf_counter()
    fuse_arrays(a, a[::-1], m)
    print(f"inference 768x576: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
