"""What identifies a result: a method call's fingerprint, a pair's cache key, a store name.

* :func:`method_fingerprint`: method name, version and *resolved* parameters (files named in
  them by content: retraining a weights file changes it).
* :func:`cache_key`: the fingerprint + the pair's name + the input pixels.
* :func:`store_name`: the store entry of a call. A call with its variant's default parameters
  is stored under its full name (``gff``, ``mdlatlrr:l2``); a call with overridden parameters
  (``--param``, ``--weights``) is a *different* entry, ``<full name>@<k=v,...>-<6 hex digest>``
  (``gff@r1=3-1a2b3c``), so it can never overwrite or mix with the default results.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from .imageio import array_digest
from .registry import MethodCall, parse_method


def sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        if isinstance(v, str) and v and os.path.isfile(v):
            return {"file": os.path.basename(v), "sha256": sha256_file(v)}
        return v
    if isinstance(v, os.PathLike):
        return _jsonable(os.fspath(v))
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return repr(v)


def method_fingerprint(call: MethodCall) -> dict[str, Any]:
    """What identifies a method's output besides its inputs (name, version, resolved parameters)."""
    params = call.spec.resolve_params(dict(call.params)) if call.spec.resolve_params else call.params
    return {"method": call.full_name, "version": call.spec.version, "params": _jsonable(params)}


def cache_key_from_digest(call: MethodCall, digest: str, pair: str) -> str:
    """The cache key from the inputs' :func:`array_digest`: hash of the method fingerprint, the
    pair name, the input pixels' digest and, for methods that read a per-pair file
    (``spec.pair_inputs``, e.g. ``folder:<name>``), that file's content."""
    fp = json.dumps(method_fingerprint(call), sort_keys=True)
    h = hashlib.sha256(fp.encode())
    h.update(pair.encode())
    h.update(digest.encode())
    if call.spec.pair_inputs is not None:
        for f in call.spec.pair_inputs(dict(call.params), pair):
            h.update(sha256_file(f).encode())
    return h.hexdigest()


def cache_key(call: MethodCall, ir_raw: np.ndarray, vi_raw: np.ndarray, pair: str) -> str:
    """:func:`cache_key_from_digest` of the two input arrays."""
    return cache_key_from_digest(call, array_digest(ir_raw, vi_raw), pair)


def _resolved(call: MethodCall) -> dict[str, Any]:
    if call.spec.resolve_params is None:
        return dict(call.params)
    try:
        return call.spec.resolve_params(dict(call.params))
    except Exception:  # noqa: BLE001 - e.g. default weights absent: compare the raw parameters
        return dict(call.params)


def overrides(call: MethodCall) -> dict[str, Any]:
    """Parameters of ``call`` that differ from its variant's defaults, compared after the
    method's ``resolve_params`` (so what does not identify the output, e.g. the folder a
    ``folder:<name>`` is read from, is no override)."""
    default = _resolved(parse_method(call.full_name))
    mine = _resolved(call)
    return {k: call.params.get(k, v) for k, v in sorted(mine.items()) if k not in default or default[k] != v}


def _short(v: Any) -> str:
    if isinstance(v, (str, os.PathLike)) and os.path.sep in os.fspath(v):
        return os.path.basename(os.fspath(v))
    return str(v) if not isinstance(v, float) else repr(v)


def override_text(call: MethodCall) -> str:
    """``r1=3,eps=0.1`` for the overridden parameters ('' when none)."""
    return ",".join(f"{k}={_short(v)}" for k, v in overrides(call).items())


def store_name(call: MethodCall) -> str:
    """The store entry of ``call`` (see the module docstring)."""
    text = override_text(call)
    if not text:
        return call.full_name
    digest = hashlib.sha256(json.dumps(method_fingerprint(call), sort_keys=True).encode()).hexdigest()[:6]
    safe = "".join(c if c.isalnum() or c in "=,.-_+" else "_" for c in text)[:60]
    return f"{call.full_name}@{safe}-{digest}"


def display_name(call: MethodCall) -> str:
    """How tables show ``call``: ``gff``, ``gff (r1=3)``."""
    text = override_text(call)
    return f"{call.full_name} ({text.replace(',', ', ')})" if text else call.full_name
