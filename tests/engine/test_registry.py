"""Registries: discovery, name parsing with variants, unknown names."""
from __future__ import annotations

import pytest

from fusionbench.errors import UnknownNameError
from fusionbench import registry
from fusionbench.registry import (DATASETS, METHODS, METRICS, PRESETS, discover, parse_method,
                                  register_method, resolve_metrics)


def test_discovery_registers_domain_modules():
    discover()
    assert {"average", "max", "published"} <= set(METHODS)
    assert {"en", "sd"} <= set(METRICS)
    assert {"synthetic", "tno", "tno_train", "roadscene", "vifb"} <= set(DATASETS)
    assert "paper" in PRESETS


def test_every_metric_has_direction_and_description():
    discover()
    for name, spec in METRICS.items():
        assert isinstance(spec.higher_is_better, bool), name
        assert spec.description, name
        assert spec.input in ("gray", "raw") or spec.input in registry.INPUTS, name


if "_t_gain" not in METHODS:
    @register_method("_t_gain", description="test double", params={"gain": 1.0},
                     variants={"double": {"gain": 2.0}})
    def _t_gain(ir, vi, gain):
        return (ir + vi) / 2 * gain


def test_parse_method_variants_and_overrides():
    assert parse_method("_t_gain").params == {"gain": 1.0}
    call = parse_method("_t_gain:double")
    assert call.variant == "double" and call.params["gain"] == 2.0 and call.full_name == "_t_gain:double"
    assert parse_method("_t_gain:double", gain=3.0).params["gain"] == 3.0
    assert parse_method("published:RFN-Nest").params["variant"] == "RFN-Nest"
    with pytest.raises(UnknownNameError, match="has no parameter 'alpha'"):
        parse_method("_t_gain", alpha=1)


@pytest.mark.parametrize("name, fragment", [("averge", "did you mean average"), ("_t_gain:triple", "variants: _t_gain:double"),
                                            ("nosuch", "unknown method")])
def test_unknown_method_names(name, fragment):
    with pytest.raises(UnknownNameError, match=fragment):
        parse_method(name)


def test_resolve_metrics_preset_and_list():
    assert resolve_metrics("en,sd,en") == ["en", "sd"]
    with pytest.raises(UnknownNameError, match="unknown metric"):
        resolve_metrics("en,nosuchmetric")
    with pytest.raises(UnknownNameError, match="unknown preset"):
        resolve_metrics(None, preset="nosuchpreset")


def test_duplicate_registration_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register_method("average", description="again")(lambda ir, vi: ir)
