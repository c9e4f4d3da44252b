"""PNG charts a planner would rather look at than read (matplotlib, Agg backend).

Labels use site ids, not names, so that no CJK font is needed on the server; the forecast chart,
which staff read, is in Chinese with site names when a CJK font is installed (`cjk_font`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.records import Records
from sim.stats import queue_series

__all__ = ["cjk_font", "coverage_chart", "forecast_chart", "queue_chart"]

_META = {"Software": None}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def coverage_chart(coverage: pd.DataFrame, window_hours: float, path: Path) -> None:
    """Share of residents sampled and with results over time (band: min–max over replications)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    h = coverage["hours"]
    for name, colour in (("sampled", "tab:blue"), ("results", "tab:green")):
        ax.fill_between(h, coverage[f"{name}_min"], coverage[f"{name}_max"], color=colour, alpha=0.2, lw=0)
        ax.plot(h, coverage[f"{name}_mean"], color=colour, label=f"{name} (mean)")
    ax.axvline(window_hours, color="tab:red", ls="--", label=f"{window_hours:g}-hour target")
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set_xlabel("hours from window start")
    ax.set_ylabel("share of registered residents")
    ax.set_ylim(0, 1.05)
    ax.set_title("Coverage over time")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)


def queue_chart(records: Records, sites: pd.DataFrame, path: Path, worst: int = 4,
                spacing_m: float = 1.0) -> None:
    """People waiting over the day at the ``worst`` sites by p95 wait (replication 0)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ranked = sites.assign(_i=range(len(sites))).sort_values("wait_p95_min", ascending=False, kind="stable")
    for _, row in ranked.head(worst).iterrows():
        s = int(row["_i"])
        grid, waiting, _ = queue_series(records, s)
        line = ax.plot(grid / 60, waiting, lw=1, label=f"{row['site_id']} (p95 {row['wait_p95_min']:.0f} min)")
        ax.axhline(float(row["queue_m"]) / spacing_m, color=line[0].get_color(), ls=":", lw=0.8)
    ax.set_xlabel("hours from window start")
    ax.set_ylabel("people waiting (dotted: queue space)")
    ax.set_title("Queue length at the sites with the longest waits")
    if len(sites):
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "Microsoft YaHei", "SimHei", "PingFang SC", "AR PL UMing CN")


def cjk_font() -> str | None:
    """A font family on this machine that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in names), None)


def forecast_chart(result: Any, path: Path) -> None:
    """Expected finish of every site (bar: p10–p90 over replications) against the window's end.

    In Chinese with site names when a CJK font is installed; otherwise site ids and English labels.
    """
    import numpy as np

    plt = _pyplot()
    font = cjk_font()
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
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8, **({"fontfamily": font} if font else {}))
    ax.invert_yaxis()
    kw = {"fontfamily": font} if font else {}
    if font:
        ax.set_xlabel("距窗口开始的小时数（点：预计完成；条：P10–P90；红色：来不及）", **kw)
        ax.set_title(f"各采样点预计完成时间（截至{result._clock(result.at)}，红色虚线：窗口结束）", **kw)
    else:
        ax.set_xlabel("hours from window start (dot: expected finish; bar: p10-p90; red: late)")
        ax.set_title("Expected finish per site (dashed: window end)")
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)
