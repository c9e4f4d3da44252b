"""Planner at city scale against two baselines, in one run; prints one table.

    python benchmarks/plan_scale.py                      # 100 k and 1 M households
    python benchmarks/plan_scale.py --sizes 1000000 4500000 --methods planner

Each (size, method) runs end to end in a fresh process — read the registry, plan, write the plan
directory (CSV, JSON and the workbook) — so wall time and peak memory (max RSS) are its own.
Cities come from `sampler generate` (seed 1) and are cached under out/bench/.
Gaps are measured against the planner's proven lower bound on the same city.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METHODS = ("planner", "greedy", "household-flow")


def run_one(method: str, city: Path, out: Path) -> dict[str, object]:
    """Load, plan and write with one method; return the figures (runs in its own process)."""
    import shutil

    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry

    register_all()  # the generated scenario has a sim section
    shutil.rmtree(out, ignore_errors=True)  # this benchmark's own earlier plan (maybe from before output markers)
    t0 = time.perf_counter()
    scenario = load_scenario(city / "scenario.yaml")
    registry = load_registry(scenario)
    t1 = time.perf_counter()
    split = 0
    if method == "planner":
        from sampler.plan.planner import make_plan

        plan = make_plan(scenario, registry)
    elif method == "greedy":
        from sampler.plan.baselines import greedy_plan

        plan = greedy_plan(scenario, registry)
    else:
        from sampler.plan.baselines import household_flow_plan

        plan, split = household_flow_plan(scenario, registry)
    t2 = time.perf_counter()
    write_plan(plan, out)
    t3 = time.perf_counter()
    s = plan.summary
    return {
        "method": method, "households": s["households"], "people": s["people"], "sites": s["sites"],
        "read_s": t1 - t0, "plan_s": t2 - t1, "write_s": t3 - t2, "wall_s": t3 - t0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "objective": s["objective"], "lower_bound": s["lower_bound"], "violations": s["violations"],
        "lp_split": split, "unplaced": s["unplaced_households"], "over_max": s["over_max_walk_households"],
        "walk_mean": s["walk_minutes"]["mean"], "last_slot": s["window"]["last_slot_used"],
    }


def ensure_city(households: int, seed: int) -> Path:
    """Generate the benchmark city once (not timed)."""
    city = ROOT / "out" / "bench" / f"city-{households}-s{seed}"
    if not (city / "scenario.yaml").is_file():
        from sampler.registry.generate import generate_city, write_city

        write_city(generate_city(households, seed=seed), city)
    return city


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--household-flow-max", type=int, default=1_000_000,
                        help="skip the household-level flow above this many households (hours, many GB)")
    parser.add_argument("--run", nargs=3, metavar=("METHOD", "CITY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run[0], Path(args.run[1]), Path(args.run[2]))))
        return

    rows = []
    for n in args.sizes:
        city = ensure_city(n, args.seed)
        bound = None
        for method in sorted(args.methods, key=METHODS.index):
            if method == "household-flow" and n > args.household_flow_max:
                rows.append({"method": method, "households": n, "skipped": f"> {args.household_flow_max:,} households"})
                continue
            out = ROOT / "out" / "bench" / f"plan-{n}-{method}"
            proc = subprocess.run([sys.executable, __file__, "--run", method, str(city), str(out)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                rows.append({"method": method, "households": n, "skipped": f"failed: {proc.stderr.strip()[-200:]}"})
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if method == "planner":
                bound = row["lower_bound"]
            lb = row["lower_bound"] if row["lower_bound"] is not None else bound
            row["gap"] = None if lb is None else (row["objective"] - lb) / row["objective"]
            rows.append(row)
            print(f"  {method:15s} {n:>10,}: {row['wall_s']:.1f} s", file=sys.stderr)
    print_table(rows)


def print_table(rows: list[dict[str, object]]) -> None:
    """Markdown table (pastes into the README as is)."""
    head = ["method", "households", "people", "sites", "read s", "plan s", "write s", "wall s", "peak MB",
            "gap %", "violations", "LP-split households", "unplaced", "walk > 15 min", "mean walk min"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        if "skipped" in r:
            print(f"| {r['method']} | {r['households']:,} | " + " | ".join(["–"] * (len(head) - 3)) + f" | skipped: {r['skipped']} |")
            continue
        gap = "–" if r["gap"] is None else f"{100 * float(r['gap']):.3f}"  # type: ignore[arg-type]
        cells = [r["method"], f"{r['households']:,}", f"{r['people']:,}", f"{r['sites']:,}", f"{r['read_s']:.1f}",
                 f"{r['plan_s']:.1f}", f"{r['write_s']:.1f}", f"{r['wall_s']:.1f}", f"{r['peak_mb']:,.0f}", gap,
                 r["violations"], f"{r['lp_split']:,}", f"{r['unplaced']:,}", f"{r['over_max']:,}", r["walk_mean"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
