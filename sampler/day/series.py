"""Coverage over time: due and sampled people per group at regular times of the window.

`sampler.day.ledger.coverage` answers "where are we now"; `coverage_series` answers "how did we
get here": for each group (area, site, grid or compound) and each time point, the people whose
slot had ended by then (due) and the people checked in by then (sampled), from the check-ins'
own times. One pass over households and check-ins with `numpy.bincount`, so a million-household
plan with a day of check-ins costs a few reductions, not one status per time point.

Grouping follows `coverage`: planned figures count the planned group; by site, sampled people
count the site of each check-in (home visits in the ``home`` group).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sampler.day.ledger import DayPlan, Ledger, _keys

__all__ = ["SERIES_BY", "coverage_series", "series_minutes"]

SERIES_BY = ("area", "site", "grid", "compound")


def series_minutes(day: DayPlan, until: float, step: float) -> npt.NDArray[np.float64]:
    """Time points (minutes from the window start): every ``step`` from 0 up to ``until`` (clipped
    to the window), and ``until`` itself when it falls between two steps. Empty before the window."""
    end = min(float(until), day.hours * 60.0)
    if end < 0:
        return np.zeros(0, np.float64)
    points = np.arange(0.0, end + 1e-9, float(step))
    if points[-1] < end - 1e-9:
        points = np.append(points, end)
    return points


def coverage_series(day: DayPlan, ledger: Ledger, log: npt.NDArray[np.float64], by: str,
                    minutes: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
    """Per group: planned people and, at each of ``minutes``, due and sampled people and coverage.

    ``log`` holds one row per check-in: (household index, site index or −1 for a home visit,
    minute from the window start, people). A check-in at minute m counts at every point ≥ m.
    """
    if by not in SERIES_BY:
        raise ValueError(f"by must be one of {', '.join(SERIES_BY)}")
    planned, keys, names, _ = _keys(day, by, ledger)
    k, t = len(keys), len(minutes)
    # due from the end of the slot; unplaced households once the window is over
    due_from = np.where(day.slot_end >= 0, day.slot_end, day.hours * 60.0).astype(np.float64)
    first = np.searchsorted(minutes, due_from, side="left")  # first point at which each is due (t: never)
    due = np.bincount(planned * (t + 1) + first, weights=day.size,
                      minlength=k * (t + 1)).reshape(k, t + 1)[:, :t].cumsum(axis=1)
    household = log[:, 0].astype(np.int64)
    if by == "site":
        site = log[:, 1].astype(np.int64)
        group = np.where(site >= 0, site, k - 1)
    else:
        group = planned[household]
    at = np.searchsorted(minutes, log[:, 2], side="left")
    sampled = np.bincount(group * (t + 1) + at, weights=log[:, 3],
                          minlength=k * (t + 1)).reshape(k, t + 1)[:, :t].cumsum(axis=1)
    people = np.bincount(planned, weights=day.size, minlength=k)
    rows = []
    for j in range(k):
        if people[j] == 0 and (t == 0 or sampled[j, -1] == 0):
            continue
        rows.append({"key": keys[j], "name": names[j], "planned_people": int(people[j]),
                     "due_people": [int(x) for x in due[j]], "sampled_people": [int(x) for x in sampled[j]],
                     "coverage": [round(float(x / people[j]), 4) if people[j] else 0.0 for x in sampled[j]]})
    return rows
