"""Make room at scale: a re-plan that can place everyone only by moving kept bookings, against the
same re-plan that never moves them, in one run; prints one table.

    python benchmarks/make_room.py                      # 1,000, 3,000 and 10,000 neighbourhoods
    python benchmarks/make_room.py --copies 1000 10000

Each neighbourhood (20 km apart, so they do not interact) is the exact case of
tests/sampler/test_replan.py: building A reaches only site S1 (4 people a slot); building B
reaches S1 and its own site S2; a1 (A) and b2 miss their slots 0 and 2, b1 is sampled, and b3–b5
hold S1's last three slots. At 60 min + a 30-minute lead the first pass can place b2 (at S2) but
not a1; making room moves exactly one of b3–b5 to S2 so that a1 gets its place. Columns: seconds
of `replan` (the planner's work only: no files), households left unplaced, and the make-room counts
(released, moved, placed); the least possible is one move per household placed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def city(copies: int):  # type: ignore[no-untyped-def]
    """The registry, scenario and the sampled mask of ``copies`` neighbourhoods."""
    from sampler.model import RiskZone
    from tests.sampler.cities import registry, site
    from tests.sampler.test_replan import scenario

    p = RiskZone.PRECAUTION
    buildings, households, sites = [], [], []
    for k in range(copies):
        x = k * 20_000.0
        buildings += [(f"A{k}", x, 0.0, p, f"cA{k}"), (f"B{k}", x + 100.0, 0.0, p, f"cB{k}")]
        households += [(f"a{k}", f"A{k}", 4)] + [(f"b{k}-{i}", f"B{k}", 4) for i in range(1, 6)]
        sites += [site(f"S1-{k}", x, 0.0, rate=8.0), site(f"S2-{k}", x + 1000.0, 0.0, rate=8.0, serves=(f"cB{k}",))]
    sampled = np.zeros(len(households), dtype=bool)
    sampled[1::6] = True  # b1 of each
    return registry(buildings, households, sites), scenario(hours=3.0, cohesion_penalty=0.0, candidate_sites=1), sampled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, nargs="+", default=[1_000, 3_000, 10_000])
    args = parser.parse_args()

    from sampler.plan.planner import make_plan
    from sampler.plan.replan import replan
    from sampler.planfiles.read import read_plan
    from sampler.planfiles.write import write_plan

    print("| neighbourhoods | households | method | re-plan s | unplaced | released | moved | placed |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for copies in args.copies:
        reg, sc, sampled = city(copies)
        with tempfile.TemporaryDirectory() as tmp:
            write_plan(make_plan(sc, reg), Path(tmp) / "plan", xlsx=False)
            files = read_plan(Path(tmp) / "plan")
            for name, room in (("keep every booking", False), ("make room", True)):
                t = time.perf_counter()
                new = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0, make_room=room)
                seconds = time.perf_counter() - t
                made = new.summary["replan"]["made_room"]
                assert new.summary["violations"] == 0
                print(f"| {copies:,} | {len(reg.households):,} | {name} | {seconds:.2f} | "
                      f"{new.summary['unplaced_households']:,} | {made['released']:,} | {made['moved']:,} | "
                      f"{made['placed']:,} |", flush=True)


if __name__ == "__main__":
    main()
