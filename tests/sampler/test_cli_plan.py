"""CLI: validate and plan on small registries, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.sampler.registry_files import HOUSEHOLDS, write_city

runner = CliRunner()


def test_validate_reports_counts_and_exits_zero(tmp_path: Path):
    """A valid registry prints its summary and writes nothing."""
    path = write_city(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "input is valid" in result.output and "households" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_validate_lists_every_issue_and_exits_two(tmp_path: Path):
    """Two bad cells give exit status 2 and a table naming both rows."""
    rows = [list(r) for r in HOUSEHOLDS]
    rows[1][4] = "0"
    rows[3][5] = "x"
    rows[2][8] = "99"  # a phone that is not a mobile is a warning, not an issue
    result = runner.invoke(app, ["validate", str(write_city(tmp_path, households=rows))])
    assert result.exit_code == 2
    assert "2 input issue(s)" in result.output


def test_plan_writes_the_plan_directory(tmp_path: Path):
    """sampler plan writes every documented file and a consistent plan.json."""
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(write_city(tmp_path)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"assignments.csv", "site_load.csv", "buildings.csv", "home_visits.csv", "unplaced.csv",
                     "sites.csv", "contacts.csv", "plan.json", "plan.xlsx", ".sampler-output.json"}
    marker = json.loads((out / ".sampler-output.json").read_text(encoding="utf-8"))
    assert marker["command"] == "plan" and set(marker["files"]) == names - {".sampler-output.json"}
    assert marker["files"]["plan.json"] == (out / "plan.json").stat().st_size
    summary = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert summary["households"] == 4 and summary["violations"] == 0
    # H4 is bedridden: home visit. H3 lives alone but can walk: a site.
    assert summary["home_households"] == 1 and summary["site_households"] == 3
    assert set(summary["inputs"]) == {"households", "buildings", "sites"}


def test_plan_on_bad_input_writes_nothing(tmp_path: Path):
    """A failed run leaves no plan directory behind."""
    rows = [list(r) for r in HOUSEHOLDS]
    rows[2][1] = "B404"
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(write_city(tmp_path, households=rows)), "-o", str(out)])
    assert result.exit_code == 2
    assert not out.exists() and not (tmp_path / ".plan.partial").exists()


def test_bad_scenario_parameters_are_named(tmp_path: Path):
    """A typo'd section key and a window shorter than one slot are both reported."""
    path = write_city(tmp_path)
    path.write_text(path.read_text() + "walk: {max_minute: 10}\n", encoding="utf-8")
    path.write_text(path.read_text().replace("hours: 24", "hours: 0.25"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "walk.max_minute" in result.output and "window.hours" in result.output
