"""PNG charts a planner would rather look at than read (matplotlib, Agg backend).

Staff read them, so they are in Chinese: sites by name, time as clock time of the sampling day
(``08:00``, the date under midnight and the first tick), counts of people as whole numbers. The
font is Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (a core dependency), so no system
font is needed; `chart_font` falls back to an installed CJK font, and English labels are used
only when neither exists. Every text a chart draws has a glyph in that font (tests check it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.io.timefmt import parse_slot
from sim.records import Records
from sim.stats import queue_series

__all__ = ["chart_font", "cjk_font", "clock_axis", "coverage_chart", "forecast_chart", "queue_chart", "save_figure"]

_META = {"Software": None}
_PACKAGED = "Noto Sans CJK SC"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_CJK_FONTS = (_PACKAGED, "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "Microsoft YaHei", "SimHei", "PingFang SC", "AR PL UMing CN")


@cache
def _register_packaged_font() -> None:
    """Add the noto-cjk-sans-otc collection to matplotlib's fonts (once per process)."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(str(FONT_PATH))
    except (OSError, RuntimeError, ValueError):  # a damaged install: fall back to system fonts
        return


def cjk_font() -> str | None:
    """A font family with Chinese glyphs (the packaged Noto Sans CJK SC first), or None."""
    from matplotlib import font_manager

    _register_packaged_font()
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in names), None)


chart_font = cjk_font


@contextmanager
def _style() -> Iterator[str | None]:
    """matplotlib settings for one chart: the CJK font (None when there is none) and an ASCII minus."""
    plt = _pyplot()
    font = cjk_font()
    settings: dict[str, Any] = {"axes.unicode_minus": False}
    if font:
        settings["font.family"] = [font]
    with plt.rc_context(settings):
        yield font


def save_figure(fig: Any, path: Path) -> None:
    """Save a chart without the matplotlib version stamp (same inputs, same bytes) and close it."""
    plt = _pyplot()
    fig.savefig(path, metadata=_META)
    plt.close(fig)


def _start(start: str | dt.datetime | None) -> dt.datetime | None:
    if start is None or isinstance(start, dt.datetime):
        return start
    try:
        return parse_slot(start) if start else None
    except ValueError:
        return None


def clock_axis(ax: Any, start: str | dt.datetime | None, lo: float, hi: float, axis: str = "x") -> None:
    """Label an axis of hours from ``start`` with clock times on whole hours between ``lo`` and ``hi``
    (every 1, 2, 3, 4 or 6 hours, at most ~13 ticks); the date is shown at the first tick and at midnight.
    Without a start the hours themselves are shown."""
    begin = _start(start)
    span = max(hi - lo, 1e-9)
    step = next((s for s in (1, 2, 3, 4, 6, 12) if span / s <= 13), 24)
    if begin is None:
        ticks = np.arange(math.ceil(lo / step) * step, hi + 1e-9, step)
        labels = [f"{t:g}" for t in ticks]
    else:
        offset = begin.hour + begin.minute / 60  # hours from the start's midnight
        first = math.ceil((lo + offset) / step - 1e-9) * step - offset
        ticks = np.arange(first, hi + 1e-9, step)
        times = [begin + dt.timedelta(minutes=round(float(t) * 60)) for t in ticks]
        labels = [f"{c.month}月{c.day}日\n{c:%H:%M}" if i == 0 or (c.hour, c.minute) == (0, 0) else f"{c:%H:%M}"
                  for i, c in enumerate(times)]
    if axis == "x":
        ax.set_xlim(lo, hi)
        ax.set_xticks(ticks, labels)
    else:
        ax.set_ylim(lo, hi)
        ax.set_yticks(ticks, labels)


def _last_change(hours: np.ndarray, *series: np.ndarray) -> float:
    """The last time any of the curves still changes (0 when none does)."""
    last = 0.0
    for values in series:
        moved = np.flatnonzero(np.abs(np.diff(values)) > 1e-12)
        if len(moved):
            last = max(last, float(hours[moved[-1] + 1]))
    return last


def _end_text(start: dt.datetime | None, window_hours: float) -> str:
    if start is None:
        return ""
    end = start + dt.timedelta(hours=window_hours)
    return f"（{end.month}月{end.day}日 {end:%H:%M}）"


def coverage_chart(coverage: pd.DataFrame, window_hours: float, path: Path, start: str | None = None,
                   replications: int | None = None) -> None:
    """Share of residents sampled and with results over the day (band: min–max over replications).

    The x axis is the window (clock time from ``start``), longer only as far as the curves still
    move after the window's end.
    """
    plt = _pyplot()
    begin = _start(start)
    with _style() as font:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        h = coverage["hours"].to_numpy(dtype=np.float64)
        names = {"sampled": "已采样", "results": "已出结果"} if font else {"sampled": "sampled", "results": "results"}
        for name, colour in (("sampled", "tab:blue"), ("results", "tab:green")):
            ax.fill_between(h, coverage[f"{name}_min"], coverage[f"{name}_max"], color=colour, alpha=0.2, lw=0)
            ax.plot(h, coverage[f"{name}_mean"], color=colour, label=f"{names[name]}（均值）" if font else
                    f"{names[name]} (mean)")
        moving = _last_change(h, *(coverage[f"{n}_{k}"].to_numpy(dtype=np.float64)
                                   for n in ("sampled", "results") for k in ("mean", "max")))
        hi = window_hours if moving <= window_hours else min(float(h.max()), math.ceil(moving + 0.5))
        ax.axvline(window_hours, color="tab:red", ls="--",
                   label=f"{window_hours:g} 小时目标{_end_text(begin, window_hours)}" if font
                   else f"{window_hours:g}-hour target")
        ax.axhline(1.0, color="grey", lw=0.5)
        clock_axis(ax, begin, 0.0, hi)
        ax.set_xlim(0.0, hi * 1.015)  # the window's end line stays visible at the right edge
        ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        runs = f"{replications} 次重复" if replications else "各次重复"
        if font:
            ax.set_xlabel("时间" if begin else "距窗口开始的小时数")
            ax.set_ylabel("占登记居民的比例")
            ax.set_title(f"采样覆盖率（线：{runs}的均值；带：最小–最大）")
        else:
            ax.set_xlabel("clock time" if begin else "hours from window start")
            ax.set_ylabel("share of registered residents")
            ax.set_title("Coverage over time")
        ax.legend(loc="lower right")
        fig.tight_layout()
        save_figure(fig, path)


def queue_chart(records: Records, sites: pd.DataFrame, path: Path, worst: int = 4,
                spacing_m: float = 1.0, start: str | None = None, replications: int = 1) -> None:
    """People waiting over the day at the ``worst`` sites by p95 wait.

    ``sites`` are the figures of sites.csv (means over ``replications``): they rank the sites and
    give the p95 shown in the legend; the curves are the queue of one replication (the first,
    whose records are kept), and the title says so.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    begin = _start(start)
    with _style() as font:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        ranked = sites.assign(_i=range(len(sites))).sort_values("wait_p95_min", ascending=False, kind="stable")
        lo, hi = math.inf, -math.inf
        for _, row in ranked.head(worst).iterrows():
            s = int(row["_i"])
            grid, waiting, _ = queue_series(records, s)
            if len(grid):
                lo, hi = min(lo, float(grid[0]) / 60), max(hi, float(grid[-1]) / 60)
            name = str(row["name"] or row["site_id"]) if font else str(row["site_id"])
            label = (f"{name}（P95 等待 {row['wait_p95_min']:.0f} 分钟）" if font
                     else f"{name} (p95 {row['wait_p95_min']:.0f} min)")
            line = ax.step(grid / 60, waiting, where="post", lw=1, label=label)
            ax.axhline(float(row["queue_m"]) / spacing_m, color=line[0].get_color(), ls=":", lw=0.8)
        if math.isfinite(lo) and hi > lo:
            clock_axis(ax, begin, math.floor(lo), math.ceil(hi))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        if font:
            ax.set_xlabel("时间" if begin else "距窗口开始的小时数")
            ax.set_ylabel("排队人数（点线：排队空间可容纳人数）")
            ax.set_title(f"等待最久的采样点的排队人数\n曲线：第 1 次重复；P95 等待：{replications} 次重复的均值（同 sites.csv）",
                         fontsize=11)
        else:
            ax.set_xlabel("hours from window start")
            ax.set_ylabel("people waiting (dotted: queue space)")
            ax.set_title(f"Queue length (replication 1; p95: mean of {replications} replications)")
        if len(sites):
            ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        save_figure(fig, path)


def forecast_chart(result: Any, path: Path) -> None:
    """Expected finish of every site (bar: p10–p90 over replications) against the window's end,
    on a clock-time axis; in Chinese with site names (English and ids only without a CJK font)."""
    plt = _pyplot()
    with _style() as font:
        sites = result.sites_frame()
        finish = np.where(np.isfinite(result.finish), result.finish, np.nan) / 60.0
        end_h = result.end / 60.0
        with np.errstate(all="ignore"):
            mean = np.nanmean(finish, axis=0) if len(finish) else np.zeros(len(sites))
        lo = np.nanquantile(finish, 0.1, axis=0) if len(finish) else mean
        hi = np.nanquantile(finish, 0.9, axis=0) if len(finish) else mean
        late = result.late()
        n = len(sites)
        order = np.argsort(np.nan_to_num(mean, nan=np.inf), kind="stable")
        fig, ax = plt.subplots(figsize=(8, max(3.0, 0.28 * n + 1.5)), dpi=100)
        labels = [str(sites["站点名称"].iloc[i] if font else sites["站点编号"].iloc[i]) for i in order]
        y = np.arange(n)
        colours = ["tab:red" if late[i] else "tab:blue" for i in order]
        ax.barh(y, (hi - lo)[order], left=lo[order], color=colours, alpha=0.25, height=0.6)
        ax.scatter(mean[order], y, color=colours, s=14, zorder=3)
        ax.axvline(end_h, color="tab:red", ls="--")
        ax.axvline(result.at / 60.0, color="grey", ls=":")
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        with np.errstate(all="ignore"):
            top = float(np.nanmax(hi)) if n and np.isfinite(hi).any() else end_h
        first = min(result.at / 60.0, float(np.nanmin(lo)) if n and np.isfinite(lo).any() else result.at / 60.0)
        clock_axis(ax, result.day.start if font else None, math.floor(max(first - 0.5, 0.0)),
                   math.ceil(max(top, end_h) + 0.5))
        if font:
            ax.set_xlabel("时间（点：预计完成；条：P10–P90；红色：来不及）")
            ax.set_title(f"各采样点预计完成时间（截至{result._clock(result.at)}，红色虚线：窗口结束）")
        else:
            ax.set_xlabel("hours from window start (dot: expected finish; bar: p10-p90; red: late)")
            ax.set_title("Expected finish per site (dashed: window end)")
        fig.tight_layout()
        save_figure(fig, path)
