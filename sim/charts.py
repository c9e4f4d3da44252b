"""PNG charts a planner would rather look at than read (matplotlib, Agg backend).

Labels use site ids, not names, so that no CJK font is needed on the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.records import Records
from sim.stats import queue_series

__all__ = ["coverage_chart", "queue_chart"]

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
