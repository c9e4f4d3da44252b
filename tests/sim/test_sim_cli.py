"""The `sampler simulate` command: outputs on success, clear errors and nothing written on bad input."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim.commands.simulate  # noqa: F401  (registers the command)
from api.cli import app
from tests.sim.builders import registry, write_plan_dir

runner = CliRunner()


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scenario file whose registry loader returns the small test registry."""
    fake = types.ModuleType("sampler.registry.read")
    fake.load_registry = lambda scenario: registry()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sampler.registry.read", fake)
    path = tmp_path / "scenario.yaml"
    path.write_text("area: 测试街道\nsim: {replications: 2}\n", encoding="utf-8")
    return path


def test_simulate_writes_every_output(scenario: Path, tmp_path: Path) -> None:
    """A good run writes the summary, records, coverage, sites and charts, and prints the verdict."""
    plan = write_plan_dir(tmp_path / "plan")
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(scenario), "--plan", str(plan), "-o", str(out),
                                 "--seed", "3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "target met in" in result.output and "replications" in result.output
    for name in ("summary.json", "households.csv", "coverage.csv", "sites.csv", "coverage.png", "queues.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == 3 and summary["replications"] == 2 and len(summary["plan_sha256"]) == 64
    lines = (out / "households.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("household_id,status,site_id,table,team,people")
    assert {line.split(",")[0] for line in lines[1:]} >= {"H1", "H2", "H3", "H4", "H5"}


@pytest.mark.parametrize("args", [["--replications", "-1"], ["--workers", "0"], ["--seed", "-5"]])
def test_bad_numbers_write_nothing(scenario: Path, tmp_path: Path, args: list[str]) -> None:
    """Negative replications, zero workers or a negative seed exit with status 2 and no output."""
    plan = write_plan_dir(tmp_path / "plan")
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(scenario), "--plan", str(plan), "-o", str(out), *args])
    assert result.exit_code == 2
    assert not out.exists()


def test_missing_plan_dir_writes_nothing(scenario: Path, tmp_path: Path) -> None:
    """A plan directory that does not exist is an input error naming --plan."""
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(scenario), "--plan", str(tmp_path / "nope"), "-o", str(out)])
    assert result.exit_code == 2
    assert "--plan" in result.output
    assert not out.exists()


def test_plan_of_another_scenario_writes_nothing(scenario: Path, tmp_path: Path) -> None:
    """A plan made from other registry files is refused before anything is written."""
    plan = write_plan_dir(tmp_path / "plan", {"households": "other", "buildings": "bb", "sites": "cc"})
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(scenario), "--plan", str(plan), "-o", str(out)])
    assert result.exit_code == 2
    assert "inputs.households" in result.output
    assert not out.exists() and not (tmp_path / ".sim.partial").exists()


DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo_street" / "scenario.yaml"


@pytest.mark.skipif(not DEMO.is_file(), reason="the demo street is not in this checkout")
def test_demo_street_plan_then_simulate(tmp_path: Path) -> None:
    """The demo street, planned by `sampler plan`, simulates and ends with the verdict line."""
    plan, out = tmp_path / "plan", tmp_path / "sim"
    planned = runner.invoke(app, ["plan", str(DEMO), "-o", str(plan)])
    assert planned.exit_code == 0, planned.output
    result = runner.invoke(app, ["simulate", str(DEMO), "--plan", str(plan), "-o", str(out), "-r", "2",
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "target met in" in result.output and "of 2 replications (everyone swabbed" in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    f = summary["figures"]
    if f["remaining_people"]["mean"] >= 1:  # the verdict names who remains and where
        assert "remain unsampled at the window's end, most at" in result.output
    assert summary["area"] and summary["figures"]["sampled_by_window_end"]["mean"] > 0.5
