"""The `sampler whatif` command: outputs on success, clear errors and nothing written on bad input."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.commands.whatif  # noqa: F401  (registers the command)
from api.cli import app
from tests.sampler import cities

runner = CliRunner()


def _city():
    reg = cities.random_city(seed=4, n_buildings=200, n_sites=3)
    sites = tuple(dataclasses.replace(s, open_minute=360, close_minute=1320) for s in reg.sites)
    return dataclasses.replace(reg, sites=sites)


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scenario file whose registry loader returns a small random city (real read_table kept)."""
    import sampler.registry.read as real

    fake = types.ModuleType("sampler.registry.read")
    fake.load_registry = lambda scenario: _city()  # type: ignore[attr-defined]
    fake.read_table = real.read_table  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sampler.registry.read", fake)
    path = tmp_path / "scenario.yaml"
    path.write_text("area: 测试街道\nwhatif: {replications: 3, minus_one_sites: 2}\n", encoding="utf-8")
    return path


def test_whatif_writes_every_output(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "whatif"
    result = runner.invoke(app, ["whatif", str(scenario), "-o", str(out), "--staff-range", "tables=1:8:1",
                                 "--workers", "1", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "minimum staff on duty" in result.output
    for name in ("whatif.csv", "site_staffing.csv", "minus_one.csv", "summary.json", "whatif.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["minimum"]["found"] is True and summary["seed"] == 2
    assert summary["full_sweep_simulations"] == 8 * 3
    assert summary["simulations_run"] == 3 * summary["levels_evaluated"]
    assert summary["simulations_saved_vs_full_sweep"] == 24 - summary["simulations_run"]
    levels = pd.read_csv(out / "whatif.csv")
    assert len(levels) == summary["levels_evaluated"]
    assert levels["meets_target"].isin([0, 1]).all()
    staffing = pd.read_csv(out / "site_staffing.csv")
    assert sorted(staffing["site_id"]) == ["S0", "S1", "S2"]
    assert staffing["tables"].sum() == summary["minimum"]["tables"]
    assert len(pd.read_csv(out / "minus_one.csv")) <= 2


def test_sweep_mode_lists_every_level(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["whatif", str(scenario), "-o", str(out), "--mode", "sweep", "--no-chart",
                                 "--staff-range", "tables=2,4", "--staff-range", "home_teams=2,4",
                                 "--workers", "1", "--minus-one-sites", "0"])
    assert result.exit_code == 0, result.output
    levels = pd.read_csv(out / "whatif.csv")
    assert list(zip(levels["axis_tables"], levels["axis_home_teams"], strict=True)) == [(2, 2), (2, 4), (4, 2), (4, 4)]
    assert not (out / "whatif.png").exists()


@pytest.mark.parametrize(("args", "field"), [
    (["--staff-range", "tables=1.5:0.5"], "empty"),
    (["--staff-range", "home_teams=-3:2"], "negative"),
    (["--staff-range", "nurses=1:2"], "nurses"),
    (["--staff-range", "tables"], "AXIS=START"),
    (["--replications", "0"], "replications"),
    (["--target-prob", "1.5"], "target_prob"),
    (["--mode", "guess"], "--mode"),
    (["--workers", "0"], "--workers"),
])
def test_bad_options_write_nothing(scenario: Path, tmp_path: Path, args: list[str], field: str) -> None:
    out = tmp_path / "whatif"
    result = runner.invoke(app, ["whatif", str(scenario), "-o", str(out), *args])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # the issue table may wrap long cells
    assert field in text and "nothing was written" in text
    assert not out.exists()


def test_unknown_site_in_staffing_file_writes_nothing(scenario: Path, tmp_path: Path) -> None:
    staffing = tmp_path / "staffing.csv"
    staffing.write_text("site_id,tables\nS0,2\nNOPE,3\n", encoding="utf-8")
    out = tmp_path / "whatif"
    result = runner.invoke(app, ["whatif", str(scenario), "-o", str(out), "--staffing", str(staffing)])
    assert result.exit_code == 2
    assert "NOPE" in result.output and "site id" in result.output
    assert not out.exists()


def test_unreachable_dask_scheduler_is_a_clear_error(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "whatif"
    result = runner.invoke(app, ["whatif", str(scenario), "-o", str(out), "--staff-range", "tables=1,2",
                                 "--dask", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2, result.output
    assert "--dask" in result.output and "cannot reach" in result.output
    assert not out.exists()
