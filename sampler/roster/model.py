"""The CP-SAT model of a PPE shift roster, on plain slot numbers (no files, no dates).

A *stint* is one person at one site for a contiguous run of slots. The model has one boolean per
candidate stint (person, site, start, length) — the classic shift-enumeration formulation, whose
LP relaxation is tight — and enforces:

- coverage: stints covering a (site, slot) plus a *shortage* variable reach the demand (the
  shortage is penalised so heavily that the solver only leaves a position empty when no one can
  fill it); no more people on duty than the site has places;
- one thing at a time and the rest gap: each stint blocks its slots plus ``rest`` slots after it,
  and a person's blocked ranges may not overlap (one at-most-one per person and slot);
- the PPE limit and minimum stint length by the enumeration itself, availability and bound sites
  by which candidates exist, the total-hours cap by one linear constraint per person;
- staggered hand-overs: at most ``stagger_limit`` stints of a site start in one slot, plus the
  increase in demand at that slot (opening a site or opening more tables is not a hand-over).

The objective is lexicographic through weights computed from the instance: shortage first, then
the number of stints (hand-overs), then person-slots on duty plus the largest person's slots
(balance). `solve_group` solves one independent group (one role, people and sites that can meet),
starting from a greedy roster (`_greedy`) given as a hint, so a solution always exists; it stops
when the gap is below one stint's weight (the shortage is then proven minimal) or at the
deterministic time limit (same seed and limit, same roster).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from sampler.model import IntArray

__all__ = ["Group", "GroupResult", "Limits", "candidate_count", "solve_group"]



@dataclass(frozen=True)
class Limits:
    """Roster rules in slots.

    Attributes
    ----------
    min_len, max_len
        Shortest and longest stint (PPE limit).
    rest
        Slots off between two stints of one person.
    total
        Most slots one person works over the window.
    """

    min_len: int
    max_len: int
    rest: int
    total: int


@dataclass(frozen=True, eq=False)
class Group:
    """One independent sub-problem.

    Attributes
    ----------
    demand
        People needed per (site, slot), shape (n_sites, n_slots), for this group's role.
    places
        Most people allowed on duty per (site, slot) (0 while the site is closed).
    stagger_limit
        Most stints starting in one slot at each site (shape (n_sites,)); negative = no limit.
    earliest, latest
        Each person's first slot and the slot after their last (exclusive end).
    allowed
        Per person, the site indices (into this group's arrays) they may work at.
    """

    demand: IntArray
    places: IntArray
    stagger_limit: IntArray
    earliest: list[int]
    latest: list[int]
    allowed: list[list[int]]


@dataclass
class GroupResult:
    """What the solver chose for one group.

    Attributes
    ----------
    stints
        (person, site, start, length) per chosen stint, indices local to the group.
    shortage
        Positions left empty per (site, slot).
    status
        CP-SAT status name (OPTIMAL, FEASIBLE), or GREEDY when the solver found no solution in time
        and the greedy roster is returned.
    objective, bound
        Objective value and best bound of this group.
    """

    stints: list[tuple[int, int, int, int]]
    shortage: IntArray
    status: str
    objective: float
    bound: float
    variables: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _candidates(group: Group, limits: Limits) -> list[tuple[int, int, int, int]]:
    """Every (person, site, start, length) worth a variable: open, available, covering demand."""
    n_slots = group.demand.shape[1]
    is_open = group.places > 0
    # open_run[s, t]: how many consecutive open slots start at t.
    open_run = np.zeros((group.demand.shape[0], n_slots + 1), dtype=np.int64)
    for t in range(n_slots - 1, -1, -1):
        open_run[:, t] = np.where(is_open[:, t], open_run[:, t + 1] + 1, 0)
    needed = np.concatenate([np.zeros((group.demand.shape[0], 1), np.int64),
                             np.cumsum(group.demand > 0, axis=1)], axis=1)
    out = []
    for p, sites in enumerate(group.allowed):
        first, last = max(group.earliest[p], 0), min(group.latest[p], n_slots)
        for s in sites:
            for t in range(first, last - limits.min_len + 1):
                longest = min(limits.max_len, last - t, int(open_run[s, t]))
                for length in range(limits.min_len, longest + 1):
                    if needed[s, t + length] > needed[s, t]:
                        out.append((p, s, t, length))
    return out


def _greedy(group: Group, limits: Limits, cands: list[tuple[int, int, int, int]]) -> list[int]:
    """A quick feasible roster (indices into ``cands``) used as the solver's starting point.

    Slot by slot, each empty position goes to the free person who has worked least, for the
    longest stint they may take; it respects every constraint of the model.
    """
    index = {c: i for i, c in enumerate(cands)}
    n_sites, n_slots = group.demand.shape
    cover = np.zeros_like(group.demand)
    starts = np.zeros_like(group.demand)
    free_from = list(group.earliest)
    worked = [0] * len(group.allowed)
    chosen = []
    for t in range(n_slots):
        for s in range(n_sites):
            limit = int(group.stagger_limit[s])
            if limit >= 0 and t > 0 and group.places[s, t - 1] > 0:
                limit += max(0, int(group.demand[s, t] - group.demand[s, t - 1]))
            else:
                limit = 1 << 30
            while cover[s, t] < group.demand[s, t] and starts[s, t] < limit:
                best = None
                for p in sorted(range(len(worked)), key=lambda q: (worked[q], q)):
                    if free_from[p] > t or s not in group.allowed[p]:
                        continue
                    for length in range(min(limits.max_len, limits.total - worked[p]), limits.min_len - 1, -1):
                        i = index.get((p, s, t, length))
                        if i is not None and (cover[s, t:t + length] < group.places[s, t:t + length]).all():
                            best = (p, length, i)
                            break
                    if best:
                        break
                if best is None:
                    break
                p, length, i = best
                chosen.append(i)
                cover[s, t:t + length] += 1
                starts[s, t] += 1
                free_from[p] = t + length + limits.rest
                worked[p] += length
    return chosen


def candidate_count(group: Group, limits: Limits) -> int:
    """Number of stint variables the group's model would have."""
    return len(_candidates(group, limits))


def solve_group(group: Group, limits: Limits, seed: int, workers: int, max_seconds: float,
                max_deterministic_time: float) -> GroupResult:
    """Build and solve the CP-SAT model of one group; always returns a roster (maybe empty)."""
    n_sites, n_slots = group.demand.shape
    n_people = len(group.allowed)
    cands = _candidates(group, limits)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(cands))]

    cover: dict[tuple[int, int], list[int]] = {}
    starts: dict[tuple[int, int], list[int]] = {}
    blocks: dict[tuple[int, int], list[int]] = {}
    work: list[list[tuple[int, int]]] = [[] for _ in range(n_people)]
    for i, (p, s, t, length) in enumerate(cands):
        for u in range(t, t + length):
            cover.setdefault((s, u), []).append(i)
        for u in range(t, min(t + length + limits.rest, n_slots)):
            blocks.setdefault((p, u), []).append(i)
        starts.setdefault((s, t), []).append(i)
        work[p].append((i, length))

    for members in blocks.values():
        if len(members) > 1:
            model.add_at_most_one(x[i] for i in members)
    for p in range(n_people):
        if sum(length for _, length in work[p]) > limits.total:
            model.add(sum(length * x[i] for i, length in work[p]) <= limits.total)

    shortage: dict[tuple[int, int], cp_model.IntVar] = {}
    for s in range(n_sites):
        for t in range(n_slots):
            need = int(group.demand[s, t])
            members = cover.get((s, t), [])
            if need > 0:
                short = model.new_int_var(0, need, f"short{s}_{t}")
                shortage[s, t] = short
                model.add(sum(x[i] for i in members) + short >= need)
            if members and len(members) > group.places[s, t]:
                model.add(sum(x[i] for i in members) <= int(group.places[s, t]))
            limit = int(group.stagger_limit[s])
            if limit >= 0 and t > 0 and group.places[s, t - 1] > 0:
                rise = max(0, need - int(group.demand[s, t - 1]))
                members = starts.get((s, t), [])
                if len(members) > limit + rise:
                    model.add(sum(x[i] for i in members) <= limit + rise)

    # Lexicographic weights: secondary terms can never outweigh one empty position.
    slots_bound = n_people * limits.total + limits.total
    w_stint = slots_bound + 1
    max_stints = n_people * (n_slots // max(1, limits.min_len) + 1)
    w_short = w_stint * (max_stints + 1)
    longest = model.new_int_var(0, limits.total, "longest")
    for p in range(n_people):
        if work[p]:
            model.add(sum(length * x[i] for i, length in work[p]) <= longest)
    model.minimize(
        w_short * sum(shortage.values())
        + w_stint * sum(x)
        + sum(length * x[i] for i, (_, _, _, length) in enumerate(cands))
        + longest
    )
    greedy = _greedy(group, limits, cands)
    hint = set(greedy)
    for i, var in enumerate(x):
        model.add_hint(var, i in hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max_seconds
    solver.parameters.max_deterministic_time = max_deterministic_time
    # Stop once the empty positions are proven minimal and the rest is within one stint of the bound.
    solver.parameters.absolute_gap_limit = w_stint - 1
    solver.parameters.cp_model_probing_level = 0  # probing costs more than it gains here
    # Put at-most-ones and clauses into the LP too: a demand of one person per slot presolves into
    # clauses, which the default level leaves out, and the bound on the stints then stays near 0.
    solver.parameters.linearization_level = 2
    status = solver.solve(model)
    name = solver.status_name(status)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = [cands[i] for i in range(len(cands)) if solver.boolean_value(x[i])]
        objective, bound = float(solver.objective_value), float(solver.best_objective_bound)
    else:  # no solution within the limits (a huge group): fall back on the greedy roster
        chosen = [cands[i] for i in greedy]
        name, objective, bound = "GREEDY", float("nan"), float("nan")
    covered = np.zeros_like(group.demand)
    for _, s, t, length in chosen:
        covered[s, t:t + length] += 1
    short_arr = np.maximum(group.demand - covered, 0)
    return GroupResult(chosen, short_arr, name, objective, bound, len(cands),
                       {"w_short": float(w_short), "w_stint": float(w_stint)})
