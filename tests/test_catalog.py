from __future__ import annotations

import pytest
from pydantic import ValidationError

from homesim.generation.catalog import Catalog, EntitySpec, load_catalog


def test_catalog_meets_the_floors() -> None:
    catalog = load_catalog()
    assert len(catalog.home_types) >= 8
    assert len(catalog.devices) >= 30
    assert len(catalog.domains) >= 15
    assert abs(sum(h.share for h in catalog.home_types.values()) - 1) < 1e-9
    for device in catalog.devices.values():
        assert len({(e.domain, e.role) for e in device.entities}) == len(device.entities)
        assert all(m.manufacturer and m.model for m in device.models)


def test_broken_catalog_references_are_reported() -> None:
    data = load_catalog().model_dump(mode="json")
    data["rooms"]["kitchen"]["devices"].append({"type": "teleporter", "p": 0.5, "n": [1, 1]})
    data["home_types"]["studio"]["share"] = 0.5
    data["climates"]["nordic"]["grid"] = "mars"
    with pytest.raises(ValidationError) as err:
        Catalog.model_validate(data)
    text = str(err.value)
    assert "unknown device type 'teleporter'" in text
    assert "shares sum to" in text
    assert "unknown grid 'mars'" in text


def test_entity_spec_rejects_states_outside_its_domain() -> None:
    with pytest.raises(ValidationError, match="not valid for domain 'light'"):
        EntitySpec(domain="light", states=("open",))
    with pytest.raises(ValidationError, match="unknown HA domain"):
        EntitySpec(domain="toaster")
