"""What-if at district scale: a full sweep on 1 and 2 local workers, and what the search saves.

Run:  .venv/bin/python benchmarks/whatif_scale.py [--households 200000] [--levels 10] [--replications 10]

Generates a seeded district with `sampler generate`'s generator, then

1. sweeps ``--levels`` table shares (0.1, 0.2 … 1.0 of the generated tables) × ``--replications``
   replications, re-planning each level, on one worker (this process) and on a two-process
   local pool, and checks that both give identical results (the speed-up ratio is the point);
2. runs the minimum-staffing search over the same range on two workers and counts the
   simulations it ran against the full sweep's.

Prints a markdown table: run, workers, levels, plans, simulations, wall seconds, peak memory
(this process and the largest worker), speed-up against one worker, and the minimum found.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.sections import register_all  # noqa: E402
from sampler.executors import ProcessExecutor, SerialExecutor  # noqa: E402
from sampler.params import load_scenario  # noqa: E402
from sampler.registry.generate import generate_city, write_city  # noqa: E402
from sampler.registry.read import load_registry  # noqa: E402
from sim.params import sim_params  # noqa: E402
from sim.whatif.jobs import WhatifRun, evaluate_levels  # noqa: E402
from sim.whatif.levels import grid_levels, make_base  # noqa: E402
from sim.whatif.params import WhatifParams  # noqa: E402
from sim.whatif.search import find_minimum  # noqa: E402


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=200_000)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    register_all()  # the generated scenario has a sim section
    with tempfile.TemporaryDirectory(prefix="whatif-bench-") as tmp:
        t0 = time.perf_counter()
        city = generate_city(args.households, seed=args.seed)
        write_city(city, Path(tmp))
        scenario = load_scenario(Path(tmp) / "scenario.yaml")
        registry = load_registry(scenario)
        made = time.perf_counter() - t0
        params = sim_params(scenario)
        wparams = WhatifParams(replications=args.replications, minus_one_sites=0)
        base = make_base(scenario, registry, params)
        shares = [round(i / args.levels, 3) for i in range(1, args.levels + 1)]
        grid = grid_levels(base, {"tables": shares})
        print(f"district: {len(registry.households):,} households, {registry.people:,} people, "
              f"{len(registry.sites)} sites, {sum(s.tables for s in registry.sites)} tables "
              f"(generated and read in {made:.1f} s); table shares {shares[0]}–{shares[-1]}", flush=True)

        rows: list[tuple[str, int, int, int, int, float, str]] = []
        results: dict[int, list[dict[str, object]]] = {}
        walls: dict[int, float] = {}
        for workers in (1, 2):
            executor = SerialExecutor() if workers == 1 else ProcessExecutor(workers)
            with executor as ex:
                run = WhatifRun(scenario, registry, params, wparams, args.seed, ex)
                t = time.perf_counter()
                res = evaluate_levels(run, grid)
                walls[workers] = time.perf_counter() - t
            results[workers] = [r.row() for r in res]
            meeting = [r for r in res if r.meets]
            best = min(meeting, key=lambda r: r.level.staff).level.staff if meeting else "none"
            rows.append(("full sweep", workers, len(run.history), run.plans, run.simulations, walls[workers], str(best)))
            print(f"  sweep on {workers} worker(s): {walls[workers]:.1f} s", flush=True)
        same = results[1] == results[2]

        with ProcessExecutor(2) as ex:
            run = WhatifRun(scenario, registry, params, wparams, args.seed, ex)
            t = time.perf_counter()
            m = find_minimum(run, base, {"tables": shares})
            wall = time.perf_counter() - t
        found = str(m.best.level.staff) if m.found and m.best is not None else f"none ({m.reason})"
        rows.append(("search", 2, len(run.history), run.plans, run.simulations, wall, found))
        own, child = _peak_mb()

    print()
    print(f"What-if at district scale: {len(registry.households):,} households, {len(grid)} levels × "
          f"{args.replications} replications (seed {args.seed})")
    print()
    print("| run | workers | distinct levels simulated | plans | simulations | wall s | speed-up vs 1 worker | minimum staff found |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, workers, levels, plans, sims, w, best in rows:
        speed = f"{walls[1] / w:.2f}×" if name == "full sweep" else "—"
        print(f"| {name} | {workers} | {levels} | {plans} | {sims} | {w:.1f} | {speed} | {best} |")
    full = rows[0][4]
    print()
    print(f"search saved {full - rows[-1][4]} of {full} simulations ({1 - rows[-1][4] / full:.0%}); "
          f"1- and 2-worker sweeps identical: {'yes' if same else 'NO'}; "
          f"peak memory: main {own:,.0f} MB, largest worker {child:,.0f} MB")


if __name__ == "__main__":
    main()
