"""Flat records of one replication: one row per household, one per box; the engine only records.

Times are minutes from the window start (NaN when it did not happen). Statistics are computed
from these records in `sim.stats`, never inside the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.model import FloatArray, IntArray

__all__ = [
    "CLOSED",
    "FOLLOWED_UP",
    "FOLLOWUP_HOME",
    "HOME",
    "MISSED",
    "REMAINING",
    "RETURNED",
    "SAMPLED",
    "STATUS",
    "UNPLACED",
    "UNSERVED",
    "WALK_IN",
    "ZONES",
    "Boxes",
    "Records",
]

StrArray = npt.NDArray[np.object_]

SAMPLED, RETURNED, WALK_IN, HOME, MISSED, UNPLACED, UNSERVED, FOLLOWED_UP, FOLLOWUP_HOME, CLOSED = range(10)
STATUS = ("sampled", "returned", "walk_in", "home", "missed", "unplaced", "unserved", "followed_up",
          "followup_home", "closed")
# unserved: came to a site (planned, returned or walk-in) but no table was staffed for it again
# that day (only with a roster: `sampler simulate --roster`).
# followed_up: a no-show a grid worker reached who then came to the site; followup_home: one
# sampled at home after the call; closed: one found away from the area or refusing (查漏补缺).
#: Statuses of households nobody sampled and no follow-up closed: what remains for the target.
REMAINING = (MISSED, UNPLACED, UNSERVED)
ZONES = ("precaution", "controlled", "sealed")


@dataclass(frozen=True, eq=False)
class Boxes:
    """Sample boxes: where from, when they left and reached the lab, and their oldest swab.

    Attributes
    ----------
    station
        Site index, or ``n_sites + team`` for a home-visit team.
    depart, lab_arrival, oldest
        Minutes; ``oldest`` is the end of the earliest swab in the box.
    tubes
        Tubes in the box.
    """

    station: IntArray
    depart: FloatArray
    lab_arrival: FloatArray
    oldest: FloatArray
    tubes: IntArray

    def __len__(self) -> int:
        return len(self.station)

    def late(self, limit_h: float) -> npt.NDArray[np.bool_]:
        """Boxes whose oldest swab reached the lab later than ``limit_h`` hours."""
        return np.asarray(self.lab_arrival - self.oldest > limit_h * 60)


@dataclass(frozen=True, eq=False)
class Records:
    """Everything that happened in one replication.

    Attributes
    ----------
    ids, status, site, table, team, size, zone
        Per household: id, STATUS code, site index (-1: none), table and team (0-based, -1: none),
        people, risk-zone code.
    arrival, start, end, tube, box, lab_arrival, result
        Per household: times (NaN if not sampled), the tube holding its last swab and its box
        (-1 if none).
    boxes
        The boxes.
    site_ids, site_names, tables, queue_m, open_at, close_at, staffed_minutes, handovers
        Per site: identity, layout, opening hours, staffed table-minutes and hand-overs.
    window_hours, people
        The window and the registered population (coverage denominator).
    trace
        ``(time, event)`` in time order, only when asked for.
    """

    ids: StrArray
    status: IntArray
    site: IntArray
    table: IntArray
    team: IntArray
    size: IntArray
    zone: IntArray
    arrival: FloatArray
    start: FloatArray
    end: FloatArray
    tube: IntArray
    box: IntArray
    lab_arrival: FloatArray
    result: FloatArray
    boxes: Boxes
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    tables: IntArray
    queue_m: FloatArray
    open_at: FloatArray
    close_at: FloatArray
    staffed_minutes: FloatArray
    handovers: IntArray
    window_hours: float
    people: int
    trace: list[tuple[float, str]] | None = field(default=None)

    def __len__(self) -> int:
        return len(self.ids)

    def to_frame(self) -> pd.DataFrame:
        """The household records as a table (the columns of households.csv)."""
        site_ids = np.array([*self.site_ids, ""], dtype=object)

        def maybe(values: IntArray, offset: int = 0) -> pd.Series:
            return pd.Series(np.where(values >= 0, values + offset, 0)).astype("Int64").mask(values < 0)

        return pd.DataFrame({
            "household_id": self.ids,
            "status": np.array(STATUS, dtype=object)[self.status],
            "site_id": site_ids[self.site],
            "table": maybe(self.table, 1),
            "team": maybe(self.team, 1),
            "people": self.size,
            "risk_zone": np.array(ZONES, dtype=object)[self.zone],
            "arrival": self.arrival,
            "start": self.start,
            "end": self.end,
            "wait": self.start - self.arrival,
            "tube": maybe(self.tube),
            "box": maybe(self.box),
            "lab_arrival": self.lab_arrival,
            "result": self.result,
        })

    def write_csv(self, path: Path) -> None:
        """households.csv: UTF-8, times in minutes from the window start with two decimals."""
        from sampler.io.csvsafe import neutralise_frame

        neutralise_frame(self.to_frame()).to_csv(path, index=False, float_format="%.2f", lineterminator="\n")
