"""Plan vs exact optimum vs proven bound on small dense generated cities: which side of the gap is loose.

    python benchmarks/plan_exact.py                                  # 300 … 2,000 households, 500 people a site
    python benchmarks/plan_exact.py --sizes 500 --people-per-site 500 1500 --seconds 120

Each city comes from `sampler.registry.generate.generate_city` (one public site per
``people_per_site`` people) and is planned by `make_plan`. The exact optimum of the site households'
cost is then searched by CP-SAT over the planner's own cost arrays (`sampler.plan.problem`): whole
households of one (building, preference class, size) are interchangeable, so the model counts them
per (site, slot) cell (integers), with a "cell used by building" boolean for cohesion, exactly the
objective of `sampler.plan.summary`. CP-SAT reports its best plan and its own proven bound within
the time limit, so each row brackets the optimum: bound ≤ CP-SAT bound ≤ optimum ≤ CP-SAT best ≤ plan.
All figures are integer cost units ÷ COST_SCALE (person-minutes), site households only.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def site_cost(problem, site, slot) -> int:  # type: ignore[no-untyped-def]
    """Integer cost of the site households of a plan (walk, slot, cohesion, unplaced), as the summary scores it."""
    from sampler.plan.flow import COST_SCALE
    from sampler.plan.summary import _largest_slot

    hh, grid, cand = problem.registry.households, problem.grid, problem.cand
    q = problem.site_queue
    size = hh.size.astype(np.int64)
    at = q[site[q] >= 0]
    arc = problem.arc_index(hh.building[at], site[at])
    cost = int((problem.arc_cost[arc] * size[at]).sum()) + int((problem.slot_cost[hh.preferred[at], slot[at]] * size[at]).sum())
    cost += int(size[q[site[q] < 0]].sum()) * problem.unplaced_cost
    cells = np.unique(hh.building[at] * grid.capacity.size + site[at] * grid.n + slot[at])
    spread = np.bincount(cells // grid.capacity.size, minlength=len(problem.registry.buildings))
    people = np.bincount(hh.building[at], weights=size[at], minlength=len(problem.registry.buildings))
    extra = np.maximum(spread - np.ceil(people / _largest_slot(grid, cand, len(problem.registry.buildings))), 0)
    return cost + int(round(float(extra.sum()) * problem.scenario.planner.cohesion_penalty * COST_SCALE))


def exact(problem, seconds: float, hint: tuple[np.ndarray, np.ndarray] | None = None,
          day_only: bool = False) -> tuple[int, int, bool]:  # type: ignore[no-untyped-def]
    """(best cost, proven lower bound, optimal?) of the site households by CP-SAT, every household placed.

    Leaving a person unplaced costs more than every other cost of these small cities together, so
    requiring everyone placed does not change the optimum when some plan places everyone.
    """
    from ortools.sat.python import cp_model

    from sampler.plan.flow import COST_SCALE
    from sampler.plan.summary import _largest_slot

    hh, grid, cand = problem.registry.households, problem.grid, problem.cand
    q = problem.site_queue
    u = round(problem.scenario.planner.cohesion_penalty * COST_SCALE)
    largest = _largest_slot(grid, cand, len(problem.registry.buildings))
    key = np.stack([hh.building[q], hh.preferred[q], hh.size[q]], axis=1)
    groups, count = np.unique(key, axis=0, return_counts=True)
    m = cp_model.CpModel()
    cost = []
    load: dict[tuple[int, int], list] = {}
    cell_terms: dict[tuple[int, int, int], list] = {}
    hint_n: dict[tuple[int, int, int, int, int], int] = {}
    if hint is not None:
        site, slot = hint
        for h in q.tolist():
            if site[h] >= 0:
                k = (int(hh.building[h]), int(hh.preferred[h]), int(hh.size[h]), int(site[h]), int(slot[h]))
                hint_n[k] = hint_n.get(k, 0) + 1
    for (b, c, s_), n in zip(groups.tolist(), count.tolist(), strict=True):
        opts = []
        for k in problem.arcs_of(b):
            s = int(cand.site[k])
            for t in np.flatnonzero((grid.capacity[s] > 0) & ~(grid.night & day_only)).tolist():
                v = m.new_int_var(0, n, "")
                if hint is not None:
                    m.add_hint(v, hint_n.get((b, c, s_, s, t), 0))
                opts.append(v)
                cost.append(int(problem.arc_cost[k] + problem.slot_cost[c, t]) * s_ * v)
                load.setdefault((s, t), []).append(s_ * v)
                cell_terms.setdefault((b, s, t), []).append(v)
        m.add(sum(opts) == n)
    for (s, t), terms in load.items():
        m.add(sum(terms) <= int(grid.capacity[s, t]))
    used_by: dict[int, list] = {}
    for (b, s, t), terms in cell_terms.items():
        y = m.new_bool_var("")
        total = int(count[groups[:, 0] == b].sum())
        m.add(sum(terms) <= total * y)
        used_by.setdefault(b, []).append(y)
        if hint is not None:
            m.add_hint(y, int(any(hint_n.get((b, c, s_, s, t), 0) for c, s_ in
                                  {(int(g[1]), int(g[2])) for g in groups[groups[:, 0] == b]})))
    for b, ys in used_by.items():
        people = int((hh.size[q] * (hh.building[q] == b)).sum())
        k_b = math.ceil(people / largest[b])
        e = m.new_int_var(0, len(ys), "")
        m.add(e >= sum(ys) - k_b)
        cost.append(u * e)
    m.minimize(sum(cost))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.random_seed = 0
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return -1, int(solver.best_objective_bound), False
    return int(round(solver.objective_value)), int(math.ceil(solver.best_objective_bound - 1e-6)), status == cp_model.OPTIMAL


def city(households: int, people_per_site: int, seed: int, tmp: Path):  # type: ignore[no-untyped-def]
    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.registry.generate import generate_city, write_city
    from sampler.registry.read import load_registry

    register_all()
    out = tmp / f"c{households}-{people_per_site}-{seed}"
    write_city(generate_city(households, seed=seed, people_per_site=float(people_per_site)), out)
    scenario = load_scenario(out / "scenario.yaml")
    return scenario, load_registry(scenario)


def main() -> None:
    from sampler.plan.flow import COST_SCALE
    from sampler.plan.planner import make_plan
    from sampler.plan.problem import build_problem

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 600, 1000, 2000])
    parser.add_argument("--people-per-site", type=int, nargs="+", default=[500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--day-only", action="store_true",
                        help="CP-SAT may use day slots only: a restriction, so its best is a plan but its bound is not")
    parser.add_argument("--seconds", type=float, default=60.0, help="CP-SAT time limit per city")
    args = parser.parse_args()
    head = ["households", "people/site", "seed", "plan", "CP-SAT best", "CP-SAT bound", "optimal", "planner bound",
            "plan − opt %", "opt − bound %", "plan − bound %"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    with tempfile.TemporaryDirectory() as d:
        for n in args.sizes:
            for pps in args.people_per_site:
                for seed in args.seeds:
                    sc, reg = city(n, pps, seed, Path(d))
                    plan = make_plan(sc, reg)
                    problem = build_problem(sc, reg)
                    site = plan.site.copy()
                    site[problem.home] = -1
                    p_cost = site_cost(problem, site, plan.slot)
                    # The summary's bound adds the home households' part: none of these are unplaced.
                    lower = round(float(plan.summary["lower_bound"]) * COST_SCALE)
                    best, lb, opt = exact(problem, args.seconds, (site, plan.slot), args.day_only)
                    ref = best if best >= 0 else p_cost

                    def pct(a: int, b: int, ref: int = ref) -> str:
                        return f"{100 * (a - b) / max(ref, 1):.2f}"

                    print(f"| {n:,} | {pps:,} | {seed} | {p_cost / COST_SCALE:,.1f} | {best / COST_SCALE:,.1f} | "
                          f"{lb / COST_SCALE:,.1f} | {'yes' if opt else 'no'} | {lower / COST_SCALE:,.1f} | "
                          f"{pct(p_cost, best)} | {pct(lb, lower)}…{pct(best, lower)} | {pct(p_cost, lower)} |", flush=True)


if __name__ == "__main__":
    main()
