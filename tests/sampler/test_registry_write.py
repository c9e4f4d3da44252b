"""`write_household_files`: a Registry written as households/buildings/sites files reads back as
the same households, buildings and sites (a person-level roster, the CLI's example street, a
generated city), with phones that are not mobiles still on the no-SMS list."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sampler.model import Registry
from sampler.notify.contact import valid_phones
from sampler.params import RegistryFiles, load_scenario
from sampler.registry.read import load_registry
from sampler.registry.write import write_household_files
from tests.sampler.test_persons import ROSTER, idn, write_roster

ROOT = Path(__file__).resolve().parents[2]


def _reread(registry: Registry, scenario_path: Path, out: Path) -> Registry:
    """Write ``registry`` to ``out`` and read it back with the scenario's other sections and crs wgs84."""
    out.mkdir()
    names = write_household_files(registry, out)
    scenario = load_scenario(scenario_path).replace(base_dir=out, registry=RegistryFiles(**names, crs="wgs84"))
    return load_registry(scenario)


def _assert_same(a: Registry, b: Registry) -> None:
    ha, hb = a.households, b.households
    for field in ("id", "unit", "room", "contact", "phone"):
        assert getattr(ha, field).tolist() == getattr(hb, field).tolist(), field
    for field in ("building", "size", "elderly", "children", "needs", "preferred"):
        assert np.array_equal(getattr(ha, field), getattr(hb, field)), field
    ba, bb = a.buildings, b.buildings
    for field in ("id", "name", "grid", "compound"):
        assert ba.__dict__[field].tolist() == bb.__dict__[field].tolist(), field
    assert ba.districts().tolist() == bb.districts().tolist()
    for field in ("lon", "lat", "zone"):
        assert np.array_equal(getattr(ba, field), getattr(bb, field)), field  # exact, not approximately
    assert a.sites == b.sites


def _no_sms(registry: Registry) -> set[str]:
    h = registry.households
    return {str(h.id[i]) for i in np.flatnonzero(~valid_phones(pd.Series(h.phone)))}


def _phone_warned(registry: Registry) -> set[str]:
    """Households (by id) of the households file that a phone warning names by row."""
    rows = {w.row for w in registry.warnings if w.field == "phone" and w.row is not None}
    return {str(registry.households.id[r - 2]) for r in rows}


def test_person_level_roster_round_trips_and_keeps_phones_on_the_no_sms_list(tmp_path: Path) -> None:
    """The test roster (three address styles, a float phone, a landline, a pregnant resident, an
    infant, an elderly resident alone) reads back unchanged; the landline household is warned again."""
    rows = [*ROSTER, ["周一", idn("19700101", "061"), "男", "户主", "东风村14号", "13800000001 13800000002", "网格二", ""]]
    scenario = write_roster(tmp_path / "in", rows)
    first = load_registry(load_scenario(scenario))
    second = _reread(first, scenario, tmp_path / "out")
    _assert_same(first, second)
    no_sms = _no_sms(second)
    assert no_sms == _no_sms(first) and len(no_sms) == 2  # the landline and the cell with two numbers
    phones = {str(i): str(p) for i, p in zip(second.households.id, second.households.phone, strict=True)}
    assert _phone_warned(second) == {i for i in no_sms if phones[i]}  # every non-blank one warned again
    assert "13812345678" in phones.values()  # the float phone, repaired once, stays repaired
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir())
    assert all(r[1] not in text for r in rows) and "990101" not in text  # no identity number written


def test_the_example_street_round_trips_from_gcj02(tmp_path: Path) -> None:
    """configs/persons_street (GCJ-02 compounds and sites) written in WGS-84 reads back the same."""
    scenario = ROOT / "configs" / "persons_street" / "scenario.yaml"
    first = load_registry(load_scenario(scenario))
    assert len(first.households) > 100
    second = _reread(first, scenario, tmp_path / "out")
    _assert_same(first, second)
    assert _no_sms(first) == _no_sms(second) and _no_sms(first)


def test_a_generated_city_round_trips(tmp_path: Path) -> None:
    """A generated city's household files (districts, needs, preferred periods) read, written, read."""
    from sampler.registry.generate import generate_city, write_city

    write_city(generate_city(3000, seed=3), tmp_path / "city")
    scenario = tmp_path / "city" / "scenario.yaml"
    first = load_registry(load_scenario(scenario))
    assert first.households.needs.any() and first.households.preferred.any()
    second = _reread(first, scenario, tmp_path / "out")
    _assert_same(first, second)


def test_text_with_commas_quotes_and_line_breaks(tmp_path: Path) -> None:
    """Commas and quotes survive; a line break inside a cell becomes a space."""
    scenario = write_roster(tmp_path / "in")
    first = load_registry(load_scenario(scenario))
    contact = first.households.contact.copy()
    contact[0], contact[1] = '张,"伟"', "李\n娜"
    hh = dataclasses.replace(first.households, contact=contact, phone=first.households.phone,
                             id=first.households.id, unit=first.households.unit, room=first.households.room)
    second = _reread(dataclasses.replace(first, households=hh), scenario, tmp_path / "out")
    assert second.households.contact[:2].tolist() == ['张,"伟"', "李 娜"]


@pytest.mark.parametrize("empty_district", [True, False])
def test_districts_written_only_when_read(tmp_path: Path, empty_district: bool) -> None:
    scenario = write_roster(tmp_path / "in")
    first = load_registry(load_scenario(scenario))
    if not empty_district:
        first = dataclasses.replace(first, buildings=dataclasses.replace(
            first.buildings, district=np.full(len(first.buildings), "芝山街道", dtype=object)))
    write_household_files(first, tmp_path)
    header = (tmp_path / "buildings.csv").read_text(encoding="utf-8").splitlines()[0]
    assert ("district" in header) is not empty_district
