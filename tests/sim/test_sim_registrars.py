"""Registrars: pre-registered households occupy a table only for their swabs."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sampler.errors import InputError
from sampler.params import Scenario, scenario_from_mapping
from sampler.planfiles.read import read_plan
from sim.engine import run_replication
from sim.inputs import prepare
from sim.params import SimParams, sim_params
from sim.records import Records
from tests.sim.builders import inputs, registry, write_plan_dir
from tests.sim.test_sim_determinism import DAY

# households.csv of DAY under SimParams() before registrars existed (commit 98402f7).
BEFORE_REGISTRARS = {
    42: "ee921c1d80bdd49c659a0954f8e39bc5fd5014928a310b9853e06dc89367d464",
    7: "7385ccbcbc5e474b850537ea4cf1c9f9bf11871b5149ce2f2c15a4e254e20866",
}

# Two sites of two tables each, 300 households each over five hours, no walk-ins or no-shows.
CITY = inputs([(f"h{i}", i % 2, (i // 60) * 60.0, (i // 60) * 60.0 + 60, 1 + i % 3) for i in range(600)],
              tables=(2, 2), hours=(0.0, 600.0))
NOISE = SimParams(no_show=0.0, walk_in_share=0.0, relief_teams=1)
REG_MEAN_MIN = sum(SimParams().registration_s) / 3 / 60  # triangular mean, minutes
REG_SD_MIN = math.sqrt((10**2 + 20**2 + 60**2 - 10 * 20 - 10 * 60 - 20 * 60) / 18) / 60


def _service(rec: Records, site: int) -> np.ndarray:
    at = rec.site == site
    order = np.argsort(rec.ids[at].astype(str))
    return np.asarray((rec.end[at] - rec.start[at])[order])


@pytest.mark.parametrize("seed", sorted(BEFORE_REGISTRARS))
def test_no_registrars_keeps_the_records_of_before(tmp_path: Path, seed: int) -> None:
    """All-zero registrars (the default) give byte for byte the households.csv of before (with the
    grid workers' follow-up off, which draws its numbers after everything else)."""
    explicit = replace(DAY, registrars=np.zeros(2, dtype=np.int64))
    for day, name in ((DAY, "default.csv"), (explicit, "zeros.csv")):
        path = tmp_path / name
        run_replication(day, SimParams(followup_reach=0.0), seed).write_csv(path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == BEFORE_REGISTRARS[seed]


def test_a_registrar_per_table_saves_the_mean_registration_time() -> None:
    """With registrars = tables at site 1, its mean service drops by the mean registration time;
    site 2 (no registrars) is served exactly as before."""
    base = run_replication(CITY, NOISE, seed=5)
    staffed = run_replication(replace(CITY, registrars=np.array([2, 0])), NOISE, seed=5)
    drop = _service(base, 0) - _service(staffed, 0)
    assert (drop > 0).all()  # every household of site 1 skipped its registration
    half_width = 4 * REG_SD_MIN / math.sqrt(len(drop))
    assert abs(drop.mean() - REG_MEAN_MIN) < half_width
    assert np.array_equal(_service(base, 1), _service(staffed, 1))


def test_one_registrar_for_two_tables_preregisters_about_half() -> None:
    """r = 1 at c = 2 tables: each household is pre-registered with probability 1/2."""
    base = run_replication(CITY, NOISE, seed=6)
    half = run_replication(replace(CITY, registrars=np.array([1, 1])), NOISE, seed=6)
    share = float(np.mean(_service(half, 0) < _service(base, 0) - 1e-9))
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / 300)


def test_registrars_are_seeded() -> None:
    """Same seed, same registrars → identical records; the draw does not leak into other streams."""
    day = replace(CITY, registrars=np.array([1, 2]))
    a, b = run_replication(day, NOISE, seed=3), run_replication(day, NOISE, seed=3)
    assert np.array_equal(a.end, b.end, equal_nan=True)
    base = run_replication(CITY, NOISE, seed=3)
    assert np.array_equal(a.arrival, base.arrival, equal_nan=True)  # arrivals untouched


def test_prepare_rounds_tables_times_registrars_per_table(tmp_path: Path) -> None:
    """registrars at a site = round(tables × registrars_per_table), from params or the scenario."""
    plan = read_plan(write_plan_dir(tmp_path / "plan"))  # S1 has 2 tables, S2 has 1
    assert prepare(Scenario(), registry(), plan).registrars.tolist() == [0, 0]
    assert prepare(Scenario(), registry(), plan, SimParams(registrars_per_table=1.5)).registrars.tolist() == [3, 2]
    sc = scenario_from_mapping({"sim": {"registrars_per_table": 0.5}})
    inp = prepare(sc, registry(), plan)
    assert inp.registrars.dtype == np.int64 and inp.registrars.tolist() == [1, 0]


def test_negative_registrars_per_table_is_an_input_error() -> None:
    """registrars_per_table < 0 names the field."""
    with pytest.raises(InputError) as exc:
        sim_params(scenario_from_mapping({"sim": {"registrars_per_table": -1}}))
    assert any(i.field.endswith("registrars_per_table") for i in exc.value.issues)


def test_registrars_must_be_one_count_per_site() -> None:
    """A what-if that replaces registrars with the wrong shape or a negative count fails loudly."""
    with pytest.raises(ValueError):
        replace(CITY, registrars=np.array([1]))
    with pytest.raises(ValueError):
        replace(CITY, registrars=np.array([1, -1]))
