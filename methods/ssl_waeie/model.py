"""SSL-WAEIE network: weighted auto-encoder (WAE) + convolutional information exchange network (CIEN).

Zhang, Nie and Cao, "SSL-WAEIE: Self-supervised learning with weighted auto-encoding and
information exchange for infrared and visible image fusion", IEEE/CAA J. Autom. Sinica 9, 2022.

Conventions: tensors are ``(B, 1, H, W)`` float32 on 0..1 (the 8-bit images divided by 255).
Every convolution is 3x3, stride 1, reflect padding, so any image size works and the output has
the input's size. Both Siamese branches (WAE encoder/decoder, CED) are *one* module applied to
the infrared and the visible input stacked along the batch axis, so they share weights and, for
the CED's BatchNorm, also batch statistics.

Architecture (paper, "WAE architecture" and "CIEN architecture"):

* WAE encoder: three conv blocks ``conv3x3 -> conv3x3 -> ReLU`` giving ``F(1), F(2), F(3)`` with
  ``C_l = widths[l]`` channels (eqs. 2-3). The decoder has the same shape and reduces ``F(3)`` back
  to one channel (its last block ends in a sigmoid instead of a ReLU, so the reconstruction lies
  on 0..1).
* IEE: one IEM-CNN per level, ``concat(F_i(l), F_v(l)) -> conv3x3 (2 C_l outputs) -> ReLU -> split``
  into ``dE_i(l), dE_v(l)`` (eq. 4).
* CED: a Siamese branch of three blocks ``conv3x3 -> conv3x3 -> BatchNorm -> ReLU`` reducing the
  concatenated multi-level ``dE(1)..dE(3)`` to one map per source (eqs. 5-6).
* Contributions by the inverse-proportional rule (7)-(8), with an ``eps`` that keeps them defined
  where both maps are zero: ``tau_i = (dE_v + eps) / (dE_i + dE_v + 2 eps)``, ``tau_v = 1 - tau_i``
  (exactly; both in [0, 1]); fused image ``F = tau_i * I_i + tau_v * I_v`` (eq. 1).

Ablations (paper, Table 4) are configuration switches of the same modules: ``iee="multi"``
(the paper's IEE), ``"single"`` (SL-IEE: one IEM-CNN on the last level, the CED sees ``dE(3)``
only) and ``"none"`` (No IEE: the CED sees the encoder features ``F(1..3)`` directly).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn


@dataclass
class SSLConfig:
    """Everything that defines one trained SSL-WAEIE model (architecture, losses, recipe).

    ``epochs`` are counted in "image-area epochs": one epoch draws as many random
    ``patch x patch`` crops as cover the training images' total pixel count once.
    """

    widths: tuple[int, int, int] = (16, 16, 32)     # C_1..C_3 of the WAE encoder levels
    ced_widths: tuple[int, int] = (16, 8)           # outputs of CED blocks 1-2 (block 3 gives 1)
    iee: str = "multi"                              # "multi" (paper) | "single" (SL-IEE) | "none"
    eps: float = 0.1                                # epsilon of the inverse-proportional rule (7)-(8)
    lam: float = 5.0                                # lambda of L_WAE (9)
    mu: float = 10.0                                # mu of L_CIEN (12)
    loss: str = "cien"                              # "cien" = L_wf + mu L_IE | "wf" = L_wf | "f" = L_f
    ie_bound: str = "tanh"                          # how L_IE is kept bounded: "tanh" | "none"
    pretrain_wae: bool = True                       # phase 1 (False = the "No WAE" ablation)
    patch: int = 64
    batch: int = 8
    lr: float = 5e-4                                # paper: 2e-5 (see MODEL_CARD.md)
    lr_wae_ratio: float = 0.1                       # WAE fine-tuning lr = ratio * lr (paper: 1/10)
    betas: tuple[float, float] = (0.5, 0.999)
    adam_eps: float = 1e-8
    wae_epochs: float = 2.0
    cien_epochs: float = 8.0
    lr_decay: str = "cosine"                        # per phase: "cosine" to 0.05*lr, or "none"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SSLConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown SSL-WAEIE config keys {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    def arch_dict(self) -> dict[str, Any]:
        """The fields that decide the network's shape and inference (checked when loading)."""
        return {"widths": list(self.widths), "ced_widths": list(self.ced_widths), "iee": self.iee,
                "eps": self.eps}


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")


class ConvBlock(nn.Module):
    """CB-I (WAE): ``conv3x3 -> conv3x3 -> act`` (act: ReLU, or sigmoid for the last decoder block)."""

    def __init__(self, cin: int, cmid: int, cout: int, act: str = "relu") -> None:
        super().__init__()
        self.conv1 = conv3(cin, cmid)
        self.conv2 = conv3(cmid, cout)
        self.act = nn.ReLU() if act == "relu" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)))


class WAE(nn.Module):
    """Weighted auto-encoder; one module = both Siamese branches (inputs stacked on the batch)."""

    def __init__(self, widths: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.encoder = nn.ModuleList([ConvBlock(1, c1, c1), ConvBlock(c1, c2, c2), ConvBlock(c2, c3, c3)])
        self.decoder = nn.Sequential(ConvBlock(c3, c3, c2), ConvBlock(c2, c2, c1),
                                     ConvBlock(c1, c1, 1, act="sigmoid"))

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.encoder:
            x = block(x)
            feats.append(x)
        return feats

    def decode(self, f3: torch.Tensor) -> torch.Tensor:
        return self.decoder(f3)

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstructions ``(I~_i, I~_v)`` through the shared branch."""
        rec = self.decode(self.encode(torch.cat([ir, vi], 0))[-1])
        return rec[: ir.shape[0]], rec[ir.shape[0]:]


class IEM(nn.Module):
    """IEM-CNN (CB-II): ``concat(F_i, F_v) -> conv3x3 (2C outputs) -> ReLU -> split`` (eq. 4)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = conv3(2 * c, 2 * c)

    def forward(self, fi: torch.Tensor, fv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = torch.relu(self.conv(torch.cat([fi, fv], 1)))
        return e.chunk(2, dim=1)


class CEDBlock(nn.Module):
    """CB-III (CED): ``conv3x3 -> conv3x3 -> BatchNorm -> ReLU``."""

    def __init__(self, cin: int, cmid: int, cout: int) -> None:
        super().__init__()
        self.conv1 = conv3(cin, cmid)
        self.conv2 = conv3(cmid, cout)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv2(self.conv1(x))))


class CIEN(nn.Module):
    """Information exchange encoder (IEE) + contribution estimation decoder (CED)."""

    def __init__(self, widths: tuple[int, int, int], ced_widths: tuple[int, int], iee: str = "multi") -> None:
        super().__init__()
        if iee not in ("multi", "single", "none"):
            raise ValueError(f"iee must be 'multi', 'single' or 'none', got {iee!r}")
        self.iee_mode = iee
        self.levels = {"multi": [0, 1, 2], "single": [2], "none": [0, 1, 2]}[iee]
        self.iee = nn.ModuleList([IEM(widths[l]) for l in self.levels]) if iee != "none" else nn.ModuleList()
        cin = sum(widths[l] for l in self.levels)
        d1, d2 = ced_widths
        self.ced = nn.Sequential(CEDBlock(cin, d1, d1), CEDBlock(d1, d2, d2), CEDBlock(d2, d2, 1))

    def exchange(self, fi: list[torch.Tensor], fv: list[torch.Tensor]
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Multi-level exchanged information ``([dE_i(l)], [dE_v(l)])`` (the CED's inputs)."""
        if self.iee_mode == "none":
            return [fi[l] for l in self.levels], [fv[l] for l in self.levels]
        pairs = [iem(fi[l], fv[l]) for iem, l in zip(self.iee, self.levels)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def reduce(self, ei: list[torch.Tensor], ev: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Single-scale ``(dE_i, dE_v)`` by the shared CED branch (eqs. 5-6)."""
        b = ei[0].shape[0]
        out = self.ced(torch.cat([torch.cat(ei, 1), torch.cat(ev, 1)], 0))
        return out[:b], out[b:]


def contributions(de_i: torch.Tensor, de_v: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse-proportional rule (7)-(8) with ``eps``: ``tau_i = (dE_v+eps)/(dE_i+dE_v+2eps)``.

    For ``dE >= 0`` both lie in [0, 1] and ``tau_i + tau_v = 1`` exactly (``tau_v = 1 - tau_i``).
    """
    tau_i = (de_v + eps) / (de_i + de_v + 2 * eps)
    return tau_i, 1.0 - tau_i


@dataclass
class Output:
    """One forward pass of SSL-WAEIE (all tensors ``(B, C, H, W)``)."""

    fused: torch.Tensor
    tau_i: torch.Tensor
    tau_v: torch.Tensor
    de_i: torch.Tensor
    de_v: torch.Tensor
    ex_i: list[torch.Tensor] = field(default_factory=list)
    ex_v: list[torch.Tensor] = field(default_factory=list)


class SSLWAEIE(nn.Module):
    """The whole network. ``forward(ir, vi)`` -> :class:`Output` with ``F = tau_i I_i + tau_v I_v``."""

    def __init__(self, cfg: SSLConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or SSLConfig()
        self.wae = WAE(self.cfg.widths)
        self.cien = CIEN(self.cfg.widths, self.cfg.ced_widths, self.cfg.iee)

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> Output:
        b = ir.shape[0]
        feats = self.wae.encode(torch.cat([ir, vi], 0))
        fi, fv = [f[:b] for f in feats], [f[b:] for f in feats]
        ex_i, ex_v = self.cien.exchange(fi, fv)
        de_i, de_v = self.cien.reduce(ex_i, ex_v)
        tau_i, tau_v = contributions(de_i, de_v, self.cfg.eps)
        fused = tau_i * ir + tau_v * vi
        return Output(fused, tau_i, tau_v, de_i, de_v, ex_i, ex_v)


def build(cfg: SSLConfig | None = None, seed: int = 0) -> SSLWAEIE:
    """A freshly initialised model (PyTorch default init under ``torch.manual_seed(seed)``)."""
    g = torch.random.fork_rng(devices=[])
    with g:
        torch.manual_seed(seed)
        return SSLWAEIE(cfg)


#: Named configurations (the paper's Tables 3-4): overrides of :class:`SSLConfig`.
VARIANT_OVERRIDES: dict[str, dict[str, Any]] = {
    "default": {},
    "no_wae": {"pretrain_wae": False},   # WAE not pre-trained by the auxiliary task
    "no_iee": {"iee": "none"},           # encoder features straight into the CED
    "sl_iee": {"iee": "single"},         # information exchange on the last level only
    "loss_f": {"loss": "f"},             # L_1 = L_f: plain fidelity, no weights, no L_IE
    "loss_wf": {"loss": "wf"},           # L_2 = L_wf: weighted fidelity only
    "mu9": {"mu": 9.0},
    "mu9.5": {"mu": 9.5},
    "mu10": {"mu": 10.0},                # == default
    "mu10.5": {"mu": 10.5},
    "mu11": {"mu": 11.0},
}


def config_for(variant: str | None = None, mu: float | None = None) -> SSLConfig:
    """The :class:`SSLConfig` of a named variant (None = default), optionally with ``mu`` overridden."""
    name = variant or "default"
    if name not in VARIANT_OVERRIDES:
        raise KeyError(name)
    cfg = SSLConfig(**VARIANT_OVERRIDES[name])
    if mu is not None:
        cfg.mu = float(mu)
    return cfg


def weight_names(variant: str | None) -> list[str]:
    """File stems (``<stem>.pt``) that hold weights for a variant, in lookup order.

    ``mu10`` and ``default`` are the same configuration, so each falls back to the other.
    """
    name = variant or "default"
    same = {"default": ["default", "mu10"], "mu10": ["mu10", "default"]}
    return same.get(name, [name])
