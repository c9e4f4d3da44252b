"""Roster parameters: the ``roster`` section of the scenario file (light to import).

Kept apart from `sampler.roster.rules` so that reading and checking a scenario with a ``roster``
section does not import the CP-SAT solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sampler.params import Scenario, with_overrides

if TYPE_CHECKING:
    from sampler.roster.model import Limits

__all__ = ["RosterParams", "roster_params"]


@dataclass(frozen=True)
class RosterParams:
    """Roster rules (scenario section ``roster``; hours are rounded to whole slots).

    Attributes
    ----------
    max_ppe_hours
        Longest continuous stint in PPE (2–3 h is common, 4 h the usual limit).
    min_rest_hours
        Rest out of PPE between two stints of one person.
    max_total_hours
        Most hours one person works over the window.
    min_stint_hours
        Shortest stint: donning PPE for 30 minutes is a waste.
    registrars_per_table
        Registrars (登记员) each open table needs; 0 rosters samplers only.
    tail_slots
        With a plan: the tables a slot needs stay needed this many slots longer (also past the
        site's closing time, within the window), so the queue, late arrivals and the last
        arrivals before closing are served. 0: only the planned slots.
    min_open_tables
        With a plan: while a site the plan uses is open (its opening hours within the window), at
        least this many tables (at most its tables) are staffed, for returning no-shows and walk-ins.
        0: planned slots only.
    stagger
        At most ceil(tables / 2) tables of a site change crew in the same slot.
    max_solve_seconds, max_deterministic_time
        Limits per solved group; the deterministic one keeps results reproducible.
    max_variables
        Above this many stint variables in one group, people who may go to any site are first
        given one site each, and each site is solved on its own.
    seed, workers
        CP-SAT random seed and threads (1 thread: same seed, same roster).
    """

    max_ppe_hours: float = 4.0
    min_rest_hours: float = 1.0
    max_total_hours: float = 10.0
    min_stint_hours: float = 2.0
    registrars_per_table: int = 1
    tail_slots: int = 1
    min_open_tables: int = 1
    stagger: bool = True
    max_solve_seconds: float = 60.0
    max_deterministic_time: float = 2.0
    max_variables: int = 10_000
    seed: int = 0
    workers: int = 1

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        for name in ("max_ppe_hours", "min_stint_hours", "max_total_hours", "max_solve_seconds",
                     "max_deterministic_time"):
            if getattr(self, name) <= 0:
                problems.append((name, str(getattr(self, name)), "use a positive number"))
        if self.min_rest_hours < 0:
            problems.append(("min_rest_hours", str(self.min_rest_hours), "use zero or more hours"))
        if self.min_stint_hours > self.max_ppe_hours:
            problems.append(("min_stint_hours", str(self.min_stint_hours),
                             f"make it at most max_ppe_hours ({self.max_ppe_hours:g})"))
        if self.max_total_hours < self.min_stint_hours:
            problems.append(("max_total_hours", str(self.max_total_hours),
                             f"make it at least min_stint_hours ({self.min_stint_hours:g})"))
        for name in ("registrars_per_table", "tail_slots", "min_open_tables"):
            if getattr(self, name) < 0:
                problems.append((name, str(getattr(self, name)), "use 0 or more"))
        if self.workers < 1:
            problems.append(("workers", str(self.workers), "use 1 or more threads"))
        if self.max_variables < 1:
            problems.append(("max_variables", str(self.max_variables), "use a positive number"))
        return problems

    def limits(self, slot_minutes: int) -> Limits:
        """The rules in whole slots (limits rounded down, minimums rounded up)."""
        from sampler.roster.model import Limits

        per = 60 / slot_minutes
        max_len = max(1, math.floor(self.max_ppe_hours * per + 1e-9))
        return Limits(min_len=min(max_len, max(1, math.ceil(self.min_stint_hours * per - 1e-9))),
                      max_len=max_len, rest=max(0, math.ceil(self.min_rest_hours * per - 1e-9)),
                      total=max(1, math.floor(self.max_total_hours * per + 1e-9)))


def roster_params(scenario: Scenario, **overrides: Any) -> RosterParams:
    """RosterParams from the scenario's ``roster`` section, with keyword overrides (not None) applied."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    return with_overrides(scenario.section("roster", RosterParams), changes, scenario.source, "roster")
