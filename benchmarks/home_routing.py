"""Home-visit routes against today's building order on 封控区-heavy generated cities; prints one table.

    python benchmarks/home_routing.py                          # 20 k, 100 k, 300 k households, 20 % sealed
    python benchmarks/home_routing.py --sizes 50000 --sealed-share 0.3

Cities come from `sampler.registry.generate.generate_city` (seed 1) with ``sealed_share`` of the
compounds sealed (the default generator seals 1 %) and the generator's own team count (sized for
14 daytime hours at 6 visits an hour); they are cached under out/bench/routing-*. For each city the
home-visit households of the planning problem are scheduled twice, in the same run:

- **building order** (`sampler.plan.homevisit.schedule_home_visits`, ``routing: false``): every
  team takes a consecutive run of the call-down list in each slot at the planned rate;
- **routed** (`sampler.plan.homeroute.route_home_visits`): teams by area, each team's buildings
  ordered by OR-Tools' routing solver, slots from the route's arrivals.

Both are then replayed the way the simulator does it (`sim.homevisits.team_process`, the visiting
order of `sim.engine`: team, slot, stop; travel ``home_travel_min`` + street distance at the teams'
speed; PPE hand-overs), with every door taking its mean time so the two differ only by their order.
Columns: team-hours worked (doors + travel, summed over teams), travel hours, makespan (the last
team's last door, hours from the window start), teams still working after the day's end (22:00),
households the schedule could not fit, and the seconds the scheduling itself took. The routed
plan's own report (team-hours of its route against its teams' buildings in call-down order) is
printed as well.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensure_city(households: int, sealed_share: float, seed: int) -> Path:
    """Generate the benchmark city once (not timed)."""
    city = ROOT / "out" / "bench" / f"routing-{households}-sealed{sealed_share:g}-s{seed}"
    if not (city / "scenario.yaml").is_file():
        from sampler.registry.generate import generate_city, write_city

        write_city(generate_city(households, seed=seed, sealed_share=sealed_share), city)
    return city


def replay(team: np.ndarray, slot: np.ndarray, stop: np.ndarray, xy: np.ndarray, building: np.ndarray,
           door: float, slot_minutes: int, m_per_min: float) -> dict[str, Any]:
    """Walk every team's list as the simulator does (mean door times); hours worked, travel, ends."""
    import simpy

    from sampler.plan.homeroute import travel_minutes
    from sim.homevisits import TeamRun, team_process
    from sim.params import SimParams

    params = SimParams()
    ok = slot >= 0
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((idx, stop[idx], slot[idx], team[idx]))]
    env = simpy.Environment()
    runs: list[TeamRun] = []
    travel_total = 0.0
    for t in np.unique(team[order]):
        rows = order[team[order] == t]
        b = building[rows]
        travel = np.r_[0.0, travel_minutes(xy[rows[:-1]], xy[rows[1:]], b[1:] == b[:-1], params.home_travel_min,
                                           m_per_min)]
        travel_total += float(travel.sum())
        run = TeamRun(f"team {t}", [""] * len(rows), (slot[rows] * float(slot_minutes)).tolist(), b.tolist(),
                      [door] * len(rows), params.home_travel_min, shift=params.shift_hours * 60,
                      gap=0.0 if params.relief_teams > 0 else params.handover_min, travel=travel.tolist())
        runs.append(run)
        env.process(team_process(env, run, None))
    env.run()
    ends = np.array([r.end[-1] for r in runs]) if runs else np.zeros(0)
    return {"work_h": (len(order) * door + travel_total) / 60, "travel_h": travel_total / 60,
            "makespan_h": float(ends.max(initial=0.0)) / 60, "ends": ends, "teams": len(runs)}


def run_city(city: Path) -> list[dict[str, Any]]:
    from api.sections import register_all  # the generated scenario may have a sim section
    from sampler.params import load_scenario
    from sampler.plan.homeroute import building_xy, route_home_visits
    from sampler.plan.homevisit import schedule_home_visits
    from sampler.plan.problem import build_problem
    from sampler.registry.read import load_registry

    register_all()
    scenario = load_scenario(city / "scenario.yaml")
    registry = load_registry(scenario)
    problem = build_problem(scenario, registry)
    grid, hv = problem.grid, scenario.home_visits
    queue = problem.home_queue
    building = registry.households.building[queue].astype(np.int64)
    xy = building_xy(registry)[building]
    m_per_min = hv.speed_m_per_min / scenario.walk.detour_factor
    day_end = float(np.flatnonzero(~grid.night).max() + 1) * grid.minutes  # 22:00 in the generated window
    common = {"households": len(registry.households), "home": len(queue), "teams": hv.teams,
              "buildings": len(np.unique(building))}

    t0 = time.perf_counter()
    slot, team = schedule_home_visits(len(queue), hv, grid.minutes, grid.night)
    plain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    routes = route_home_visits(registry, queue, hv, scenario.walk, grid.minutes, grid.night)
    routed_s = time.perf_counter() - t0

    rows = []
    for method, sl, tm, stop, seconds in (("building order", slot, team, np.zeros(len(queue), dtype=np.int64), plain_s),
                                          ("routed", routes.slot, routes.team, routes.stop, routed_s)):
        r = replay(tm, sl, stop, xy, building, hv.door_minutes, grid.minutes, m_per_min)
        rows.append({**common, "method": method, "seconds": seconds, "unplaced": int((sl < 0).sum()),
                     "past_day_end": int((r["ends"] > day_end).sum()), **r})
    rows[-1]["report"] = routes.report
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """Markdown table (pastes into the README as is)."""
    head = ["households", "home visits", "buildings", "teams", "method", "team-hours", "travel h", "makespan h",
            "teams past 22:00", "unplaced", "solve s", "route report: routed / building-order team-h"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        rep = r.get("report")
        report = f"{rep['team_hours_routed']:,.1f} / {rep['team_hours_building_order']:,.1f} " \
                 f"({rep['saved_percent']:.1f} % saved; {rep['methods']})" if rep else "–"
        cells = [f"{r['households']:,}", f"{r['home']:,}", f"{r['buildings']:,}", f"{r['teams']:,}", r["method"],
                 f"{r['work_h']:,.1f}", f"{r['travel_h']:,.1f}", f"{r['makespan_h']:.2f}", f"{r['past_day_end']:,}",
                 f"{r['unplaced']:,}", f"{r['seconds']:.2f}", report]
        print("| " + " | ".join(str(c) for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 300_000])
    parser.add_argument("--sealed-share", type=float, default=0.2, help="share of compounds sealed (封控区)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        city = ensure_city(n, args.sealed_share, args.seed)
        got = run_city(city)
        rows.extend(got)
        print(f"  {n:>10,} households: building order {got[0]['work_h']:,.1f} team-h, "
              f"routed {got[1]['work_h']:,.1f} team-h ({got[1]['seconds']:.1f} s)", file=sys.stderr, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
