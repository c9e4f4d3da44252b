"""Routes for home-visit teams: who visits whom, in which order, and when they arrive.

    routes = route_home_visits(registry, problem.home_queue, scenario.home_visits, scenario.walk,
                               grid.minutes, grid.night)

1. **Teams by area.** The home-visit households (in call-down order: building, unit, room) are
   shared out among ``home_visits.teams`` teams by recursive coordinate bisection over their
   buildings' positions, weighted by the work each household brings (its door time, and the move
   to the next building): every team gets about the same work and a compact area. A cut falls
   between buildings unless a building is too large to keep whole (a sealed high-rise).
2. **One route per team.** A team's stops are its buildings (a sealed compound is one stop per
   building); a stop's service time is its households × the door time plus the 0.5-minute walks
   between doors. Travel between two buildings is ``building_minutes`` + street distance ÷
   ``speed_m_per_min`` — the travel the simulator replays (`sim.homevisits`). OR-Tools' routing
   solver (one vehicle, an open path: the team starts at its first stop and ends at its last)
   orders the stops: path-cheapest-arc first solution, then guided local search for
   ``route_solutions`` solutions. The time dimension is bounded by the team's hours: the day
   slots (a soft bound: night work costs extra) within the window. A count, not a wall-clock
   limit, ends the search, so the same inputs give the same routes. A team with more than
   ``route_max_stops`` buildings is ordered by nearest neighbour instead. A route is never kept if
   it travels longer than the building order.
3. **Slots from arrivals.** Walking the route from the window's start (day slots first, then night
   slots, as the site plan uses them; the slots a team works are taken in time order, so arrivals
   only grow along its route), each household's expected arrival gives its slot; a household whose
   visit the team cannot finish inside the window is left unplaced (add teams).

The plan reports, per team and in total, the working hours (doors + travel) of the route against
the same households visited in building order (``home_routes`` in plan.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sampler.model import FloatArray, IntArray, Registry
from sampler.params import HomeVisitParams, WalkParams
from sampler.plan.geo import project

__all__ = ["SAME_BUILDING_MIN", "HomeRoutes", "building_xy", "merge_route_reports", "route_home_visits",
           "travel_minutes"]

SAME_BUILDING_MIN = 0.5
"""Minutes to the next door in the same building (the simulator's too)."""


def building_xy(registry: Registry) -> FloatArray:
    """Positions of all buildings in metres (the projection `sampler.plan.geo.candidate_sites` uses)."""
    b = registry.buildings
    if not len(b):
        return np.zeros((0, 2))
    return project(b.lon, b.lat, float(np.mean(b.lat)), float(np.mean(b.lon)))


def travel_minutes(xy_from: FloatArray, xy_to: FloatArray, same: npt.NDArray[np.bool_], building_minutes: float,
                   m_per_min: float) -> FloatArray:
    """Minutes from one door to the next: 0.5 in the same building, otherwise the fixed move plus
    the street distance at the team's speed (``m_per_min`` = speed ÷ detour factor)."""
    dist = np.hypot(*(np.asarray(xy_to, dtype=np.float64) - np.asarray(xy_from, dtype=np.float64)).reshape(-1, 2).T)
    return np.where(same, SAME_BUILDING_MIN, building_minutes + dist / m_per_min)


@dataclass(frozen=True, eq=False)
class HomeRoutes:
    """Per household of the home queue (its order): team (1-based), stop (1-based within the team's
    route; households of one building share it), slot (−1 = unplaced) and expected arrival in
    minutes from the window start (NaN when unplaced); plus the plan.json report."""

    team: IntArray
    stop: IntArray
    slot: IntArray
    arrival: FloatArray
    report: dict[str, Any]


def _assign_teams(xy: FloatArray, weight: FloatArray, building: IntArray, teams: int) -> IntArray:
    """0-based team of each household (queue order) by weighted recursive coordinate bisection."""
    n = len(xy)
    team = np.zeros(n, dtype=np.int64)
    stack: list[tuple[IntArray, int, int]] = [(np.arange(n), 0, teams)]
    while stack:
        idx, first, k = stack.pop()
        if k <= 1 or len(idx) == 0:
            team[idx] = first
            continue
        k1 = k // 2
        pts = xy[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        order = idx[np.lexsort((idx, pts[:, axis]))]  # ties (one building): call-down order
        cum = np.cumsum(weight[order])
        target = cum[-1] * k1 / k
        cut = int(np.searchsorted(cum, target, side="left")) + 1
        cut = min(max(cut, 1), len(order) - 1) if len(order) > 1 else len(order)
        # Keep a building whole when it is small next to a team's share: cut at its nearer end.
        b = building[order]
        if 0 < cut < len(order) and b[cut - 1] == b[cut]:
            lo = cut
            while lo > 0 and b[lo - 1] == b[cut]:
                lo -= 1
            hi = cut
            while hi < len(order) and b[hi] == b[cut]:
                hi += 1
            share = cum[-1] / k
            if cum[hi - 1] - (cum[lo - 1] if lo > 0 else 0.0) <= 0.25 * share:
                below = cum[lo - 1] if lo > 0 else 0.0
                cut = lo if (target - below) < (cum[hi - 1] - target) and lo > 0 else hi
                cut = min(max(cut, 1), len(order) - 1)
        stack.append((order[cut:], first + k1, k - k1))
        stack.append((order[:cut], first, k1))
    return team


def _route_or_tools(travel: IntArray, service: IntArray, day_end: int, solutions: int) -> list[int] | None:
    """Stop order of one open path over ``travel`` (seconds) with ``service`` (seconds) per stop, or None."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(service)
    full = np.zeros((n + 1, n + 1), dtype=np.int64)  # node 0: a free start and end
    full[1:, 1:] = travel
    manager = pywrapcp.RoutingIndexManager(n + 1, 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    cost = routing.RegisterTransitMatrix(full.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost)
    with_service = full + np.r_[0, service][:, None]
    busy = routing.RegisterTransitMatrix(with_service.tolist())
    horizon = int(with_service.max(axis=1).sum()) + 1
    routing.AddDimension(busy, 0, horizon, True, "time")
    # The team's hours: work past the day's end costs as much again as travel.
    routing.GetDimensionOrDie("time").SetCumulVarSoftUpperBound(routing.End(0), int(day_end), 1)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.solution_limit = int(solutions)
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return None
    out = []
    index = routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if node:
            out.append(node - 1)
        index = solution.Value(routing.NextVar(index))
    return out if len(out) == n else None


def _nearest_neighbour(travel: FloatArray) -> list[int]:
    """Stop order from the first stop, always to the nearest stop not yet visited."""
    n = len(travel)
    seen = np.zeros(n, dtype=bool)
    order = [0]
    seen[0] = True
    for _ in range(n - 1):
        row = np.where(seen, np.inf, travel[order[-1]])
        nxt = int(np.argmin(row))
        order.append(nxt)
        seen[nxt] = True
    return order


def _path_travel(order: list[int] | IntArray, travel: FloatArray) -> float:
    o = np.asarray(order, dtype=np.int64)
    return float(travel[o[:-1], o[1:]].sum()) if len(o) > 1 else 0.0


def route_home_visits(registry: Registry, home_queue: IntArray, params: HomeVisitParams, walk: WalkParams,
                      slot_minutes: int, night: npt.NDArray[np.bool_]) -> HomeRoutes:
    """Teams, routes, slots and arrivals of the home households ``home_queue`` (call-down order);
    see the module docstring."""
    hh = registry.households
    n = len(home_queue)
    n_slots = len(night)
    slot_order = np.concatenate([np.flatnonzero(~night), np.flatnonzero(night)])
    day_end = float(int((~night).sum()) * slot_minutes)
    horizon = float(n_slots * slot_minutes)
    door = params.door_minutes
    m_per_min = params.speed_m_per_min / walk.detour_factor
    team = np.full(n, -1, dtype=np.int64)
    stop = np.zeros(n, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    arrival = np.full(n, np.nan)
    empty: dict[str, Any] = {"teams": params.teams, "teams_used": 0, "stops": 0}
    if n == 0 or params.teams < 1:
        return HomeRoutes(team, stop, slot, arrival, _report(empty, [], door))
    bxy = building_xy(registry)
    building = hh.building[home_queue].astype(np.int64)
    xy = bxy[building]
    first_in_building = np.r_[True, building[1:] != building[:-1]]
    weight = door + np.where(first_in_building, params.building_minutes, SAME_BUILDING_MIN)
    team0 = _assign_teams(xy, weight, building, params.teams)
    per_team: list[dict[str, Any]] = []
    for t in range(params.teams):
        rows = np.flatnonzero(team0 == t)  # call-down order
        if not len(rows):
            continue
        b_rows = building[rows]
        starts = np.flatnonzero(np.r_[True, b_rows[1:] != b_rows[:-1]])
        stop_b = b_rows[starts]  # stops in building order (a building occurs once per team: rows are sorted)
        counts = np.diff(np.r_[starts, len(rows)])
        service = counts * door + (counts - 1) * SAME_BUILDING_MIN
        pts = bxy[stop_b]
        k = len(stop_b)
        dist = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
        travel = np.where(np.eye(k, dtype=bool), 0.0, params.building_minutes + dist / m_per_min)
        building_order = list(range(k))
        method = "single"
        order: list[int] = building_order
        if 2 < k <= params.route_max_stops:
            routed = _route_or_tools(np.rint(travel * 60).astype(np.int64), np.rint(service * 60).astype(np.int64),
                                     int(day_end * 60), params.route_solutions)
            method = "routing"
            if routed is not None and _path_travel(routed, travel) < _path_travel(building_order, travel):
                order = routed
        elif k > params.route_max_stops:
            method = "nearest-neighbour"
            nn = _nearest_neighbour(travel)
            if _path_travel(nn, travel) < _path_travel(building_order, travel):
                order = nn
        elif k == 2:
            method = "routing"
        # Walk the route: households of a stop in call-down order.
        pos = np.empty(k, dtype=np.int64)
        pos[np.asarray(order)] = np.arange(k)
        stop_of_row = np.repeat(pos, counts)  # stop (0-based) of each row, rows in building order
        visit = np.lexsort((np.arange(len(rows)), stop_of_row))
        seq_stop = stop_of_row[visit]
        step = np.r_[0.0, np.where(seq_stop[1:] == seq_stop[:-1], SAME_BUILDING_MIN,
                                   travel[np.asarray(order)[seq_stop[:-1]], np.asarray(order)[seq_stop[1:]]]
                                   if len(seq_stop) > 1 else np.zeros(0))]
        start = np.cumsum(step + np.r_[0.0, np.full(len(seq_stop) - 1, door)]) if len(seq_stop) else np.zeros(0)
        r = rows[visit]
        team[r] = t + 1
        stop[r] = seq_stop + 1
        k_slot = np.floor(start / slot_minutes).astype(np.int64)
        ok = start + door <= horizon + 1e-9  # the visit must end inside the window
        # The slots this team works, in time order: its first day slots, and night slots only past
        # the day's end. (A night before a later day slot is taken in its turn, never after it.)
        used = np.sort(slot_order[:int(k_slot[ok].max()) + 1]) if ok.any() else slot_order[:0]
        at = np.full(len(r), np.inf)
        at[ok] = used[k_slot[ok]] * slot_minutes + (start[ok] - k_slot[ok] * slot_minutes)
        ok &= at + door <= horizon + 1e-9  # ... in clock time too
        slot[r[ok]] = used[k_slot[ok]]
        arrival[r[ok]] = at[ok]
        routed_travel = _path_travel(order, travel)
        plain_travel = _path_travel(building_order, travel)
        work_door = float(service.sum())
        per_team.append({"team": t + 1, "stops": k, "households": len(rows), "method": method,
                         "work": work_door, "travel": routed_travel, "travel_building": plain_travel,
                         "end": float(start[-1] + door), "unreached": int((~ok).sum())})
    empty.update(teams_used=len(per_team), stops=sum(p["stops"] for p in per_team))
    return HomeRoutes(team, stop, slot, arrival, _report(empty, per_team, door, day_end))


def _report(head: dict[str, Any], per_team: list[dict[str, Any]], door: float, day_end: float = 0.0) -> dict[str, Any]:
    """The ``home_routes`` block of plan.json."""
    def hours(x: float) -> float:
        return round(x / 60.0, 2)

    work = sum(p["work"] for p in per_team)
    routed = sum(p["travel"] for p in per_team)
    plain = sum(p["travel_building"] for p in per_team)
    methods: dict[str, int] = {}
    for p in per_team:
        methods[p["method"]] = methods.get(p["method"], 0) + 1
    ends = [p["end"] for p in per_team]
    return {
        **head,
        "door_minutes": round(door, 2),
        "team_hours_routed": hours(work + routed),
        "team_hours_building_order": hours(work + plain),
        "travel_hours_routed": hours(routed),
        "travel_hours_building_order": hours(plain),
        "saved_percent": round(100.0 * (plain - routed) / (work + plain), 2) if work + plain > 0 else 0.0,
        "longest_team_hours": hours(max(ends, default=0.0)),
        "teams_past_day_end": sum(1 for e in ends if e > day_end),
        "unreached_households": sum(p["unreached"] for p in per_team),
        "methods": dict(sorted(methods.items())),
    }


def merge_route_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``home_routes`` block of several parts' (`sampler.plan.split`): sums, maxima and the saving."""
    if len(reports) == 1:
        return dict(reports[0])
    out: dict[str, Any] = {}
    for key in ("teams", "teams_used", "stops", "team_hours_routed", "team_hours_building_order", "travel_hours_routed",
                "travel_hours_building_order", "teams_past_day_end", "unreached_households"):
        total = sum(r[key] for r in reports)
        out[key] = round(total, 2) if isinstance(total, float) else total
    out["door_minutes"] = reports[0]["door_minutes"]
    plain, routed = out["team_hours_building_order"], out["team_hours_routed"]
    out["saved_percent"] = round(100.0 * (plain - routed) / plain, 2) if plain > 0 else 0.0
    out["longest_team_hours"] = max(r["longest_team_hours"] for r in reports)
    methods: dict[str, int] = {}
    for r in reports:
        for m, c in r["methods"].items():
            methods[m] = methods.get(m, 0) + c
    out["methods"] = dict(sorted(methods.items()))
    return {k: out[k] for k in reports[0]}
