"""Issue 15, item 11: every ``torch.load`` reads weights only; a pickle that would run code is
refused with a clear error, and SSL-WAEIE checkpoints (optimizer + RNG state) still resume."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fusionbench.errors import WeightsError  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil(path: Path, marker: Path, wrap: dict | None = None) -> Path:
    buf = io.BytesIO()
    torch.save({**(wrap or {}), "x": _Payload(marker)}, buf)
    path.write_bytes(buf.getvalue())
    return path


def test_no_torch_load_without_weights_only():
    calls = []
    for p in list(PROJECT.glob("fusionbench/**/*.py")) + list(PROJECT.glob("methods/**/*.py")) + \
            list(PROJECT.glob("benchmarks/**/*.py")):
        for m in re.finditer(r"torch\.load\(([^)]*)\)", p.read_text()):
            calls.append((p.name, m.group(1)))
    assert calls, "no torch.load found: the scan is broken"
    bad = [c for c in calls if "weights_only=True" not in c[1]]
    assert not bad, bad


def test_planted_checkpoint_is_refused_and_never_runs(tmp_path):
    from fusionbench.methods.ssl_waeie import train as T
    from fusionbench.methods.ssl_waeie.model import SSLConfig

    cfg = SSLConfig(widths=(4, 4, 8), ced_widths=(4, 4), patch=32, batch=2, wae_epochs=1, cien_epochs=1)
    marker = tmp_path / "PWNED"
    _evil(tmp_path / "w.ckpt", marker)
    with pytest.raises(WeightsError, match=r"w\.ckpt: refused: .*unsafe pickle.*posix\.system.*delete it"):
        T.trainer(out=tmp_path / "w.pt", dataset="synthetic", max_steps=2, progress=False, config=cfg)
    assert not marker.exists()


def test_planted_weights_file_is_refused(tmp_path):
    from fusionbench.methods._nets import read_torch
    from fusionbench.methods.ssl_waeie.train import load_weights_file

    marker = tmp_path / "PWNED"
    p = _evil(tmp_path / "evil.pt", marker, {"format": "fusionbench-ssl_waeie-weights"})
    with pytest.raises(WeightsError, match=r"evil\.pt: refused: holds objects other than tensors"):
        load_weights_file(p)
    with pytest.raises(WeightsError, match=r"evil\.pt: refused: holds objects other than tensors"):
        read_torch(p, "densefuse")
    assert not marker.exists()


def test_checkpoint_with_optimizer_and_rng_state_loads_weights_only(tmp_path):
    """What ``save_ckpt`` writes (Adam state, numpy PCG64 state with 128-bit ints, torch RNG
    state) is plain enough for ``weights_only=True``."""
    import numpy as np

    from fusionbench.methods.ssl_waeie import train as T

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    rng = np.random.default_rng(7)
    rng.random(3)
    ck = {"plan": {"config": {"mu": 10.0}, "seed": 0}, "model": model.state_dict(), "opt": opt.state_dict(),
          "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "rows": [{"step": 1, "lr": 0.1}]}
    p = tmp_path / "c.ckpt"
    p.write_bytes(T._torch_bytes(ck))
    back = T.load_checkpoint(p)
    again = np.random.default_rng()
    again.bit_generator.state = back["rng"]
    assert again.random() == rng.random()
    assert torch.equal(back["torch_rng"], ck["torch_rng"])
    opt2 = torch.optim.Adam(model.parameters())
    opt2.load_state_dict(back["opt"])
    assert opt2.state_dict()["param_groups"][0]["betas"] == (0.5, 0.999)
