"""`sampler simulate --roster`: plan, roster and simulate a small city; short rosters show; bad rosters write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.commands.simulate  # noqa: F401  (registers the command)
from api.cli import app
from tests.sampler.registry_files import HOUSEHOLDS, rows_text, write_city

runner = CliRunner()
HOUSES = [HOUSEHOLDS[0], *[[f"H{i}", ("B1", "B2", "B3")[i % 3], "1", str(100 + i), str(1 + i % 4),
                            str(i % 2), "0", "张", "", "", ""] for i in range(240)]]


def _staff(path: Path, samplers: int, registrars: int) -> Path:
    rows = [["staff_id", "name", "role", "site_id", "earliest", "latest"],
            *[[f"C{i}", f"采样{i}", "sampler", "", "", ""] for i in range(samplers)],
            *[[f"R{i}", f"登记{i}", "registrar", "", "", ""] for i in range(registrars)]]
    path.write_text(rows_text(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 240-household city planned once, with a full and a one-person roster, and a full roster of the planned slots only."""
    root = tmp_path_factory.mktemp("city")
    scenario = write_city(root, households=HOUSES)
    plan = root / "plan"
    assert runner.invoke(app, ["plan", str(scenario), "-o", str(plan)]).exit_code == 0
    out = {"scenario": scenario, "plan": plan}
    bare = ["--tail-slots", "0", "--min-open-tables", "0"]
    for name, samplers, registrars, extra in (("full", 12, 12, []), ("short", 1, 1, []), ("bare", 12, 12, bare)):
        staff = _staff(root / f"staff_{name}.csv", samplers, registrars)
        result = runner.invoke(app, ["roster", str(scenario), "--staff", str(staff), "--plan", str(plan),
                                     "-o", str(root / name), "--no-xlsx", *extra])
        assert result.exit_code == 0, result.output
        out[name] = root / name
    return out


def _simulate(city: dict[str, Path], out: Path, roster: Path | None, replications: int = 3) -> tuple[dict, str]:
    args = ["simulate", str(city["scenario"]), "--plan", str(city["plan"]), "-o", str(out),
            "-r", str(replications), "--seed", "7", "--workers", "1"]
    result = runner.invoke(app, [*args, "--roster", str(roster)] if roster else args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), result.output


def test_short_roster_waits_longer_or_misses_more(city: dict[str, Path], tmp_path: Path) -> None:
    """Same plan and seed: the one-person roster samples fewer people (or later) than the full one."""
    full_roster = json.loads((city["full"] / "roster.json").read_text(encoding="utf-8"))
    short_roster = json.loads((city["short"] / "roster.json").read_text(encoding="utf-8"))
    assert full_roster["unstaffed"] == 0 < short_roster["unstaffed"]
    full, printed = _simulate(city, tmp_path / "full", city["full"])
    short, _ = _simulate(city, tmp_path / "short", city["short"] / "roster.csv")  # the file works too
    f, s = full["figures"], short["figures"]
    assert s["sampled_by_window_end"]["mean"] < f["sampled_by_window_end"]["mean"] - 0.2
    assert s["unserved_households"]["mean"] > f["unserved_households"]["mean"]
    assert short["target_met_replications"] == 0
    assert full["staffing"]["source"] == "roster" and full["staffing"]["roster"].endswith("roster.csv")
    assert set(full["staffing"]["registrars"]) == {"S1", "S2"}
    assert "staffing" in printed and "roster" in printed
    statuses = pd.read_csv(tmp_path / "short" / "households.csv")["status"]
    assert (statuses == "unserved").any()


def test_a_full_roster_from_the_plan_serves_everyone_who_comes(city: dict[str, Path], tmp_path: Path) -> None:
    """Fully staffed, the plan-driven roster (tail slot, one table through the opening hours) leaves no one
    unserved and meets the 24-hour target; staffing only the planned slots leaves late arrivals,
    returning no-shows and walk-ins unserved (same plan, same seed)."""
    for name in ("full", "bare"):
        roster = json.loads((city[name] / "roster.json").read_text(encoding="utf-8"))
        assert roster["unstaffed"] == 0
    full, _ = _simulate(city, tmp_path / "full", city["full"], replications=5)
    bare, _ = _simulate(city, tmp_path / "bare", city["bare"], replications=5)
    assert full["figures"]["unserved_households"]["max"] == 0
    assert full["window_met_replications"] == 5
    statuses = pd.read_csv(tmp_path / "full" / "households.csv")["status"]
    assert not (statuses == "unserved").any()
    assert bare["figures"]["unserved_households"]["min"] > 0 and bare["window_met_replications"] == 0
    assert full["figures"]["sampled_by_window_end"]["mean"] > bare["figures"]["sampled_by_window_end"]["mean"]


def test_without_roster_the_staffing_is_the_shift_rules(city: dict[str, Path], tmp_path: Path) -> None:
    """No --roster: summary.json says the shift calendar was used."""
    summary, printed = _simulate(city, tmp_path / "shifts", None)
    assert summary["staffing"] == {"source": "shifts"}
    assert "staffing" not in printed


def _bad_roster(city: dict[str, Path], directory: Path, edit: str) -> Path:
    directory.mkdir()
    text = (city["full"] / "roster.csv").read_text(encoding="utf-8")
    meta = json.loads((city["full"] / "roster.json").read_text(encoding="utf-8"))
    if edit == "site":
        lines = text.splitlines()
        lines[1] = lines[1].replace(",S1,", ",S9,").replace(",S2,", ",S9,")
        text = "\n".join(lines) + "\n"
    elif edit == "area":
        meta["area"] = "别的街道"
    elif edit == "window":
        meta["window"]["start"] = "2022-12-01 06:00"
    elif edit == "unreadable":
        (directory / "roster.csv").write_bytes(b"\x81\x00\xff\xfe")
    if edit != "unreadable":
        (directory / "roster.csv").write_text(text, encoding="utf-8")
    (directory / "roster.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return directory


@pytest.mark.parametrize(("edit", "field"), [("site", "site_id"), ("area", "area"), ("window", "window.start"),
                                             ("unreadable", ""), ("missing", "--roster")])
def test_bad_roster_exits_two_and_writes_nothing(city: dict[str, Path], tmp_path: Path, edit: str,
                                                 field: str) -> None:
    """A site not in the plan, another area or window, an unreadable or missing roster: status 2, no output."""
    roster = tmp_path / "nowhere" if edit == "missing" else _bad_roster(city, tmp_path / "roster", edit)
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(city["scenario"]), "--plan", str(city["plan"]), "-o", str(out),
                                 "-r", "1", "--roster", str(roster)])
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no hidden temporary directory
