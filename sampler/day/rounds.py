"""Coverage per round and across rounds (三天三检: an area sampled on consecutive days).

A *round* is one sampling day: its first plan (from scratch, or ``sampler plan --previous``: the
next round) and the same-day re-plans made from it (``sampler replan``; plan.json ``replan``).
Residents are matched across rounds by household id (registry ids are stable; the resident code
is too). A household counts as sampled in a round when any plan of that round has a check-in of
it.

    rounds = [Round(1, (3, 5), ids_day1, sampled_day1), Round(2, (8,), ids_day2, sampled_day2)]
    report = round_coverage(rounds)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Round", "round_coverage"]


@dataclass(frozen=True, eq=False)
class Round:
    """One sampling day: its number (1 = the first), the ids of its plans (oldest first), the
    households its newest plan lists and the ids of those with a check-in in any of its plans."""

    number: int
    plan_ids: tuple[int, ...]
    households: npt.NDArray[np.object_]
    sampled: npt.NDArray[np.object_]


def round_coverage(rounds: Sequence[Round]) -> dict[str, Any]:
    """Per round: households listed, sampled, coverage. Across rounds, over the households every
    round lists: how many were sampled in every round, in some round, in none."""
    per: list[dict[str, Any]] = []
    listed_of: list[npt.NDArray[np.str_]] = []
    sampled_of: list[npt.NDArray[np.str_]] = []
    for r in rounds:
        listed = np.unique(np.asarray(r.households, dtype=str))
        sampled = np.intersect1d(listed, np.unique(np.asarray(r.sampled, dtype=str)))
        listed_of.append(listed)
        sampled_of.append(sampled)
        per.append({"round": r.number, "plan_ids": list(r.plan_ids), "households": int(len(listed)),
                    "sampled_households": int(len(sampled)),
                    "coverage": round(len(sampled) / len(listed), 6) if len(listed) else 1.0})
    common: npt.NDArray[np.str_] = listed_of[0] if listed_of else np.zeros(0, dtype=str)
    for listed in listed_of[1:]:
        common = np.intersect1d(common, listed)
    hits = np.zeros(len(common), dtype=np.int64)
    for sampled in sampled_of:
        hits += np.isin(common, sampled)
    n = len(common)
    every = int((hits == len(per)).sum()) if per else 0
    across = {"rounds": len(per), "households": int(n), "sampled_every_round": every,
              "sampled_some_round": int((hits > 0).sum()), "never_sampled": int((hits == 0).sum()),
              "coverage_every_round": round(every / n, 6) if n else 1.0}
    return {"rounds": per, "across": across}
