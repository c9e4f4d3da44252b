"""A city planned in parts (`sampler plan --parts N --workers W`) against one planner run; one table.

    python benchmarks/plan_split.py                          # 1 M households; 1, 2, 4 parts; 1 and 2 workers
    python benchmarks/plan_split.py --households 100000 --parts 2 --workers 1 2

Each row runs end to end in a fresh process — read and validate the registry, split, plan the
parts on the executor, merge, write the plan directory including the workbook — so its wall time
and peak memory are its own. Peak MB is the main process's max RSS and, with worker processes,
the largest worker's. Cities come from `sampler generate` (seed 1) and are cached under
out/bench/. "gap" is against the sum of the parts' proven bounds (the split problem's bound);
"extra walk" is what the split costs: households whose nearest feasible site lies in another part,
and the person-minutes of walking that adds at the least (to their part's nearest site).
"slowest part s" is the planner time of the largest part alone (plan s minus it is the cost of
splitting, shipping parts to workers and merging, plus waiting for a busy machine); "CPU s" is the
user + system time of the run and its workers, which a shared machine does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plan_scale import ensure_city  # noqa: E402  (the same cached benchmark cities)


def run_one(city: Path, out: Path, parts: int, workers: int) -> dict[str, object]:
    """Read, split, plan and write; parts = 0 is the plain planner (runs in its own process)."""
    import shutil

    from api.sections import register_all
    from sampler.executors import opened_executor
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.plan.split import partition, plan_in_parts
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry

    register_all()  # the generated scenario has a sim section
    shutil.rmtree(out, ignore_errors=True)  # this benchmark's own earlier plan (maybe from before output markers)
    t0 = time.perf_counter()
    scenario = load_scenario(city / "scenario.yaml")
    registry = load_registry(scenario)
    t1 = time.perf_counter()
    if parts:
        part = partition(scenario, registry, parts=parts)
        with opened_executor(workers) as executor:
            plan = plan_in_parts(scenario, registry, part, executor)
    else:
        plan = make_plan(scenario, registry)
    t2 = time.perf_counter()
    write_plan(plan, out)
    t3 = time.perf_counter()
    s = plan.summary
    wc = s.get("split", {}).get("walk_cost", {})
    return {
        "parts": parts, "workers": workers, "households": s["households"], "read_s": t1 - t0, "plan_s": t2 - t1,
        "write_s": t3 - t2, "wall_s": t3 - t0,
        "slowest_part_s": s["timing"].get("part_solve_seconds_max", s["timing"].get("solve_seconds", 0.0)),
        "cpu_s": sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                     for f in ("ru_utime", "ru_stime")),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "objective": s["objective"], "gap": s["gap"], "unplaced": s["unplaced_households"],
        "violations": s["violations"], "balance": s.get("split", {}).get("people_max_over_mean", 1.0),
        "elsewhere": wc.get("households_nearest_site_in_other_part", 0),
        "extra_walk": wc.get("extra_walk_person_minutes", 0.0), "walk_mean": s["walk_minutes"]["mean"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run", nargs=4, metavar=("CITY", "OUT", "PARTS", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(Path(args.run[0]), Path(args.run[1]), int(args.run[2]), int(args.run[3]))))
        return
    city = ensure_city(args.households, args.seed)
    load_before = os.getloadavg()[0]
    rows = []
    for parts, workers in [(0, 1)] + [(p, w) for p in args.parts for w in args.workers]:
        out = ROOT / "out" / "bench" / f"split-{args.households}-p{parts}-w{workers}"
        proc = subprocess.run([sys.executable, __file__, "--run", str(city), str(out), str(parts), str(workers)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            print(f"  parts {parts} workers {workers} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  parts {parts} workers {workers}: {row['wall_s']:.1f} s", file=sys.stderr)
    base = next((r["objective"] for r in rows if not r["parts"]), None)
    for r in rows:
        r["vs_unsplit"] = None if base is None else (r["objective"] - base) / base
    print(f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print_table(rows)


def print_table(rows: list[dict[str, object]]) -> None:
    """Markdown table (pastes into the README as is)."""
    head = ["parts", "workers", "households", "read s", "plan s", "slowest part s", "write s", "wall s", "CPU s", "peak MB (main / worker)",
            "people max/mean", "gap %", "objective vs unsplit %", "unplaced", "violations", "mean walk min",
            "households nearest site in another part", "extra walk person-min"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        worker = f" / {r['worker_peak_mb']:,.0f}" if r["parts"] and r["workers"] > 1 else ""  # type: ignore[operator]
        cells = [
            "1 (unsplit)" if not r["parts"] else f"{r['parts']}", f"{r['workers']}", f"{r['households']:,}",
            f"{r['read_s']:.1f}", f"{r['plan_s']:.1f}", f"{r['slowest_part_s']:.1f}", f"{r['write_s']:.1f}", f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}",
            f"{r['peak_mb']:,.0f}{worker}", f"{r['balance']:.3f}", f"{100 * r['gap']:.3f}",  # type: ignore[operator]
            "–" if r.get("vs_unsplit") is None else f"{100 * r['vs_unsplit']:+.2f}",  # type: ignore[operator]
            f"{r['unplaced']:,}", f"{r['violations']}", f"{r['walk_mean']:.2f}", f"{r['elsewhere']:,}",
            f"{r['extra_walk']:,.0f}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
