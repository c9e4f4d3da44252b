"""Charts staff read: rendered by the commands, in Chinese, with a glyph for every character.

`sampler simulate` (coverage.png, queues.png), `sampler whatif` (whatif.png) and `sampler
forecast` (forecast.png) are run on small cities; every figure they save is inspected as it is
saved: each character of each visible text artist (titles, axis labels, tick labels, legends)
must have a glyph in the font matplotlib chose for it (FT2Font.get_char_index != 0, so no
missing-glyph boxes), that font must be the packaged Noto Sans CJK, and matplotlib must not warn
of a missing glyph. Time axes show clock times, the window as it is.
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

import sim.commands.forecast  # noqa: F401  (registers the command)
import sim.commands.simulate  # noqa: F401
import sim.commands.whatif  # noqa: F401
from api.cli import app
from sim.charts import cjk_font, clock_axis
from tests.sampler import cities
from tests.sampler.registry_files import HOUSEHOLDS, rows_text, write_city
from tests.sim.builders import registry, write_plan_dir

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")
CLOCK = re.compile(r"(?:\d{1,2}月\d{1,2}日\n)?\d\d:\d\d")


def _texts(fig: Figure) -> list[Any]:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def glyph_problems(fig: Figure) -> list[str]:
    """Characters of the figure's texts that have no glyph in the font chosen for them."""
    from matplotlib.font_manager import findfont, get_font

    problems = []
    for text in _texts(fig):
        path = findfont(text.get_fontproperties(), fallback_to_default=False)
        font = get_font(path)
        if "CJK" not in font.family_name:
            problems.append(f"{text.get_text()!r}: font {font.family_name}")
        problems += [f"{text.get_text()!r}: {ch!r} in {font.family_name}" for ch in text.get_text()
                     if not ch.isspace() and font.get_char_index(ord(ch)) == 0]
    return problems


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """Every figure saved, by file name: its texts, tick labels, x limits and glyph problems."""
    charts: dict[str, dict[str, Any]] = {}
    original = Figure.savefig

    def savefig(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            original(self, fname, *args, **kwargs)
        ax = self.axes[0]
        charts[Path(str(fname)).name] = {
            "problems": glyph_problems(self), "texts": [t.get_text() for t in _texts(self)],
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "xlim": ax.get_xlim(),
            "xticks": [t.get_text() for t in ax.get_xticklabels()],
            "warnings": [str(w.message) for w in caught if "missing from" in str(w.message)],
        }

    monkeypatch.setattr(Figure, "savefig", savefig)
    yield charts


def _assert_readable(chart: dict[str, Any]) -> None:
    assert chart["problems"] == [] and chart["warnings"] == []
    assert CJK.search(chart["title"]), chart["title"]


def test_the_packaged_font_is_found() -> None:
    """Noto Sans CJK SC comes from the noto-cjk-sans-otc package, not from the system."""
    assert cjk_font() == "Noto Sans CJK SC"


def test_clock_axis_shows_the_window_as_clock_times() -> None:
    """A 24-hour window from 06:00 reads 06:00 … 次日 06:00 with the date at the start and at midnight."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    clock_axis(ax, "2022-11-23 06:00", 0.0, 24.0)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "11月23日\n06:00" and labels[1] == "08:00" and labels[-1] == "06:00"
    assert "11月24日\n00:00" in labels and ax.get_xlim() == (0.0, 24.0)
    clock_axis(ax, "2022-11-23 06:30", 0.0, 3.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["11月23日\n07:00", "08:00", "09:00"]
    plt.close(fig)


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    import sampler.registry.read as real

    fake = types.ModuleType("sampler.registry.read")
    fake.load_registry = lambda scenario: registry()  # type: ignore[attr-defined]
    fake.read_table = real.read_table  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sampler.registry.read", fake)


def test_simulation_charts(fake_registry: None, saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """coverage.png and queues.png: Chinese, clock-time axes, the window drawn as it is (24 h, not
    the 48 h the curves are computed over), site names, and the queue chart saying its curves are
    one replication and its p95 the mean of all, as sites.csv."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("area: 测试街道\nsim: {replications: 3}\n", encoding="utf-8")
    out = tmp_path / "sim"
    r = runner.invoke(app, ["simulate", str(scenario), "--plan", str(write_plan_dir(tmp_path / "plan")),
                            "-o", str(out), "--seed", "3", "--workers", "1"])
    assert r.exit_code == 0, r.output
    coverage, queues = saved["coverage.png"], saved["queues.png"]
    for chart in (coverage, queues):
        _assert_readable(chart)
        assert chart["xticks"] and all(CLOCK.fullmatch(t) for t in chart["xticks"]), chart["xticks"]
        assert "小时数" not in chart["xlabel"]
    hours = float(pd.read_csv(out / "coverage.csv")["hours"].max())
    assert hours > 24 and coverage["xlim"][1] <= 24 * 1.02
    assert "3 次重复" in queues["title"] and "第 1 次重复" in queues["title"]
    sites = pd.read_csv(out / "sites.csv")
    shown = [t for t in queues["texts"] if "P95 等待" in t and "分钟" in t]
    assert shown
    for text in shown:
        name = text.split("（", 1)[0]
        assert name in set(sites["name"]), text
        p95 = float(sites.loc[sites["name"] == name, "wait_p95_min"].iloc[0])
        assert f"P95 等待 {p95:.0f} 分钟" in text


def test_whatif_chart(monkeypatch: pytest.MonkeyPatch, saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """whatif.png is in Chinese with every glyph present."""
    import sampler.registry.read as real

    fake = types.ModuleType("sampler.registry.read")
    fake.load_registry = lambda scenario: cities.random_city(seed=4, n_buildings=60, n_sites=2)  # type: ignore[attr-defined]
    fake.read_table = real.read_table  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sampler.registry.read", fake)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("area: 测试街道\nwhatif: {replications: 2, minus_one_sites: 0}\n", encoding="utf-8")
    r = runner.invoke(app, ["whatif", str(scenario), "-o", str(tmp_path / "w"), "--staff-range", "tables=1:3:1",
                            "--workers", "1", "--seed", "1"])
    assert r.exit_code == 0, r.output
    _assert_readable(saved["whatif.png"])
    assert "在岗人数" in saved["whatif.png"]["xlabel"]


def test_forecast_chart(saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """forecast.png names sites, reads clock times and has every glyph."""
    houses = [HOUSEHOLDS[0], *[[f"H{i}", ("B1", "B2", "B3")[i % 3], "1", str(100 + i), str(1 + i % 4),
                                str(i % 2), "0", "张", "", "", ""] for i in range(60)]]
    scenario = write_city(tmp_path, households=houses)
    plan = tmp_path / "plan"
    assert runner.invoke(app, ["plan", str(scenario), "-o", str(plan)]).exit_code == 0
    a = pd.read_csv(plan / "assignments.csv", dtype=str, keep_default_na=False)
    a = a[(a["mode"] == "site") & (a["slot_end"] <= "2022-11-23 08:00")]
    checkins = tmp_path / "采样记录.csv"
    checkins.write_text(rows_text([["核酸码", "采样点编号", "采样时间", "人数"],
                                   *[[x.code, x.site_id, f"{x.slot_end}:00", x.size] for x in a.itertuples()]]),
                        encoding="utf-8-sig")
    r = runner.invoke(app, ["forecast", str(scenario), "--plan", str(plan), "--checkins", str(checkins),
                            "--at", "2022-11-23 08:00", "-r", "2", "--seed", "1", "--workers", "1",
                            "-o", str(tmp_path / "fc")])
    assert r.exit_code == 0, r.output
    chart = saved["forecast.png"]
    _assert_readable(chart)
    assert chart["xticks"] and all(CLOCK.fullmatch(t) for t in chart["xticks"]), chart["xticks"]
    names = set(pd.read_csv(plan / "sites.csv")["name"])
    assert names & set(chart["texts"])
