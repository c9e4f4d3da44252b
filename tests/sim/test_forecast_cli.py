"""`sampler forecast`: plan a small city, check some households in, forecast the rest of the day;
bad input (a time outside the window, a check-in file of another plan, an unreadable time) exits
2 and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.commands.forecast  # noqa: F401  (registers the command)
from api.cli import app
from sampler.commands import ui
from tests.sampler.registry_files import HOUSEHOLDS, rows_text, write_city

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's consoles take the terminal width at import (80 in CI): widen them so that error
    tables are not folded or cut and every file, row and value can be asserted."""
    monkeypatch.setattr(ui.console, "width", 3000)
    monkeypatch.setattr(ui.err_console, "width", 3000)
HOUSES = [HOUSEHOLDS[0], *[[f"H{i}", ("B1", "B2", "B3")[i % 3], "1", str(100 + i), str(1 + i % 4),
                            str(i % 2), "0", "张", "", "", ""] for i in range(240)]]
HEADER = ["核酸码", "采样点编号", "采样时间", "人数"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 240-household city planned once, and a check-in export of its first 2 hours."""
    root = tmp_path_factory.mktemp("city")
    scenario = write_city(root, households=HOUSES)
    plan = root / "plan"
    result = runner.invoke(app, ["plan", str(scenario), "-o", str(plan)])
    assert result.exit_code == 0, result.output
    a = pd.read_csv(plan / "assignments.csv", dtype=str, keep_default_na=False)
    a = a[(a["mode"] == "site") & (a["slot_end"] <= "2022-11-23 08:00")]
    rows = [HEADER, *[[r.code, r.site_id, r.slot_end.replace("08:00", "07:55") + ":00", r.size]
                      for r in a.itertuples()]]
    checkins = root / "采样记录.csv"
    checkins.write_text(rows_text(rows), encoding="utf-8-sig")
    return {"scenario": scenario, "plan": plan, "checkins": checkins, "root": root}


def _run(city: dict[str, Path], out: Path, *extra: str, checkins: Path | None = None, at: str = "2022-11-23 08:00"):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["forecast", str(city["scenario"]), "--plan", str(city["plan"]), "--checkins",
                               str(checkins or city["checkins"]), "--at", at, "-r", "4", "--seed", "3",
                               "--workers", "1", "-o", str(out), *extra], env={"COLUMNS": "3000"})


def test_forecast_writes_every_output(city: dict[str, Path], tmp_path: Path) -> None:
    """forecast.json (the API's result names), sites.csv and grids.csv in Chinese, the chart."""
    out = tmp_path / "fc"
    result = _run(city, out)
    assert result.exit_code == 0, result.output
    for name in ("forecast.json", "sites.csv", "grids.csv", "forecast.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "forecast.json").read_text(encoding="utf-8"))
    assert data["at"] == "2022-11-23T08:00:00+08:00" and data["replications"] == 4 and data["seed"] == 3
    assert data["checkins"]["used"] > 0 and data["checkins"]["after_at"] == 0
    site_keys = {"site_id", "name", "due_people", "remaining_people", "observed_rate", "planned_rate",
                 "expected_finish", "p_finish_in_window", "late"}
    assert {s["site_id"] for s in data["sites"]} == {"S1", "S2"}
    assert all(site_keys <= set(s) for s in data["sites"])
    assert {g["grid"] for g in data["grids"]} == {"网格一", "网格二"}
    assert all({"grid", "expected_coverage", "p10", "p90"} <= set(g) for g in data["grids"])
    assert isinstance(data["late_sites"], list) and len(data["calibration"]) == 2
    sites = (out / "sites.csv").read_bytes()
    assert sites.startswith(b"\xef\xbb\xbf") and "站点名称".encode() in sites and "是否来不及".encode() in sites
    assert "窗口结束预计覆盖率" in (out / "grids.csv").read_text(encoding="utf-8-sig")
    assert "剩余时段预测" in result.output and data["verdict"] in result.output.replace("\n", "")


def test_same_seed_same_forecast(city: dict[str, Path], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(city, a).exit_code == 0 and _run(city, b).exit_code == 0
    assert (a / "forecast.json").read_bytes() == (b / "forecast.json").read_bytes()
    assert (a / "sites.csv").read_bytes() == (b / "sites.csv").read_bytes()


@pytest.mark.parametrize("at", ["2022-11-23 05:00", "2022-11-24 07:00", "noon"])
def test_time_outside_the_window_writes_nothing(city: dict[str, Path], tmp_path: Path, at: str) -> None:
    out = tmp_path / "fc"
    result = _run(city, out, at=at)
    assert result.exit_code == 2, result.output
    assert "--at" in result.output and at in result.output
    assert not out.exists()


def test_checkins_of_another_plan_write_nothing(city: dict[str, Path], tmp_path: Path) -> None:
    """Codes this plan does not have: the file, data row, field and value are named; exit 2."""
    other = tmp_path / "other.csv"
    other.write_text(rows_text([HEADER, ["ABCDEFGH", "S1", "2022-11-23 07:00", "1"],
                                ["HJKMNPQR", "S1", "2022-11-23 07:10", "1"]]), encoding="utf-8")
    out = tmp_path / "fc"
    result = _run(city, out, checkins=other)
    assert result.exit_code == 2, result.output
    text = result.output.replace("\n", "")
    assert "other.csv" in text and "ABCDEFGH" in text and "code" in text and "this plan" in text
    assert not out.exists()


def test_unreadable_checkin_time_writes_nothing(city: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    good = city["checkins"].read_text(encoding="utf-8-sig").splitlines()
    bad.write_text("\n".join([*good[:3], "ABCDEFGH,S1,昨天,1"]) + "\n", encoding="utf-8")
    out = tmp_path / "fc"
    result = _run(city, out, checkins=bad)
    assert result.exit_code == 2, result.output
    assert "昨天" in result.output and "at" in result.output
    assert not out.exists()


def test_bad_options_write_nothing(city: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fc"
    for extra in (["--late-below", "0"], ["--prior-people", "-1"], ["--workers", "0"]):
        result = _run(city, out, *extra)
        assert result.exit_code == 2, (extra, result.output)
    result = runner.invoke(app, ["forecast", str(city["scenario"]), "--plan", str(city["plan"]), "--checkins",
                                 str(tmp_path / "missing.csv"), "--at", "08:00", "-o", str(out)])
    assert result.exit_code == 2 and "--checkins" in result.output
    assert not out.exists()
