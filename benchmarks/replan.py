"""Same-day re-plan at city scale against a from-scratch re-plan, in one run; prints one table.

    python benchmarks/replan.py                          # 1 M households
    python benchmarks/replan.py --households 100000      # a quicker run

A generated city (`sampler generate`, seed 1, cached under out/bench/) is planned (not timed) and
written. At noon 10 % of its public sites close; households whose slot ended before noon are
checked in (95 % of them; the rest missed) as a synthetic check-in export. Then, timed:

- **re-plan** end to end as `sampler replan` does it: read the plan directory, read (a CSV export) and validate the
  check-ins, re-plan (keep what is still feasible, plan the rest from noon + 30 min), write;
- **from scratch** (the baseline, same run, same inputs): every unsampled household planned again
  into the capacity left (`replan(..., keep_bookings=False)`), scored the same way.

Columns: wall seconds per phase, the re-planned part's gap against its proven bound, capacity
violations counted again from the arrays (load > capacity in any site-slot, anyone moved into a
slot before the cutoff, a sampled household touched), households and people moved (a new site or
slot, or a new home-visit time), the kept bookings moved to place households the first pass could
not (made room: moved → placed, `sampler.plan.replan._make_room`) and how many more the baseline moves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensure_city(households: int, seed: int, city: Path | None) -> Path:
    """The benchmark city (generated once, not timed; shared with plan_scale.py's cache)."""
    if city is not None:
        return city
    path = ROOT / "out" / "bench" / f"city-{households}-s{seed}"
    if not (path / "scenario.yaml").is_file():
        from sampler.registry.generate import generate_city, write_city

        write_city(generate_city(households, seed=seed), path)
    return path


def checkin_rows(files, noon: float, share: float, seed: int) -> tuple[list[dict[str, object]], int]:  # type: ignore[no-untyped-def]
    """Check-in rows (as `sampler.day.files.read_checkins` gives them) of ``share`` of the households
    whose slot ended by ``noon``, five minutes before the slot's end; and how many were due."""
    import datetime as dt

    from sampler.day.ledger import CHINA

    a = files.assignments
    start = dt.datetime.strptime(files.summary["window"]["start"], "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)
    end = (np.array(a["slot_end"].astype("datetime64[ns]"), dtype="datetime64[m]")
           - np.datetime64(start.replace(tzinfo=None), "m")).astype(np.int64)
    due = np.flatnonzero(end <= noon)
    rng = np.random.default_rng(seed)
    took = due[rng.random(len(due)) < share]
    codes = a["code"].to_numpy()[took]
    sites = np.where(a["mode"].to_numpy()[took] == "site", a["site_id"].to_numpy()[took], "home")
    people = a["size"].to_numpy()[took]
    minutes = end[took] - 5
    labels = {m: (start + dt.timedelta(minutes=int(m))).isoformat() for m in np.unique(minutes).tolist()}
    rows = [{"id": f"c{i}", "code": c, "household_id": "", "phone": "", "site_id": s, "at": labels[m],
             "people": str(p), "tube": "", "row": i + 1}
            for i, (c, s, m, p) in enumerate(zip(codes.tolist(), sites.tolist(), minutes.tolist(), people.tolist(),
                                                 strict=True))]
    return rows, len(due)


def check(plan, previous, sampled: np.ndarray, cutoff: int) -> int:  # type: ignore[no-untyped-def]
    """Violations counted again from the arrays: site-slots over capacity, households moved into a
    slot before the cutoff, sampled households whose booking changed."""
    from sampler.plan.planner import MODE_SITE

    over = int((plan.load() > plan.grid.capacity).sum())
    moved = np.isin(plan.change, ["moved", "home", "new"])
    early = int((plan.slot[moved] < cutoff).sum())
    touched = int(((plan.site != previous.site) | (plan.slot != previous.slot))[sampled & (previous.mode == MODE_SITE)].sum())
    return over + early + touched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--city", type=Path, default=None, help="a generated city directory (default: generate one)")
    parser.add_argument("--at", type=float, default=360.0, help="minutes from the window start (360: noon)")
    parser.add_argument("--lead", type=float, default=30.0)
    parser.add_argument("--close", type=float, default=0.10, help="share of public sites that close")
    parser.add_argument("--sampled", type=float, default=0.95, help="share of the households due by noon checked in")
    args = parser.parse_args()

    from api.sections import register_all
    from sampler.day.files import read_checkins
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.plan.replan import previous_plan, replan, sampled_from_checkins
    from sampler.planfiles.read import read_plan
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry

    register_all()
    city = ensure_city(args.households, args.seed, args.city)
    out = ROOT / "out" / "bench" / f"replan-{args.households}"
    scenario = load_scenario(city / "scenario.yaml")
    registry = load_registry(scenario)
    t = time.perf_counter()
    first = make_plan(scenario, registry)
    plan_s = time.perf_counter() - t
    write_plan(first, out / "plan", xlsx=False, force=True)
    del first
    rng = np.random.default_rng(args.seed)
    public = [s.id for s in registry.sites if not s.serves]
    close = sorted(rng.choice(public, size=max(1, round(args.close * len(public))), replace=False).tolist())
    files = read_plan(out / "plan")
    rows, due = checkin_rows(files, args.at, args.sampled, args.seed)
    # The sampling system's export, as `sampler replan --checkins` reads it (inside the timing).
    export = out / "checkins.csv"
    pd.DataFrame([{k: r[k] for k in ("id", "code", "site_id", "at", "people")} for r in rows]).to_csv(export, index=False)
    cutoff = int(np.ceil((args.at + args.lead) / scenario.window.slot_minutes - 1e-9))
    print(f"city {city.name}: {len(registry.households):,} households, {len(registry.sites):,} sites "
          f"({len(close)} closed); first plan {plan_s:.1f} s; {due:,} due by noon, {len(rows):,} checked in",
          file=sys.stderr)

    results = []
    for name, keep in (("re-plan", True), ("from scratch", False)):
        t0 = time.perf_counter()
        files = read_plan(out / "plan")
        t1 = time.perf_counter()
        sampled, _ = sampled_from_checkins(files, registry, read_checkins(export), args.at, str(export))
        t2 = time.perf_counter()
        new = replan(scenario, registry, files, sampled, args.at, lead_minutes=args.lead, close=close,
                     keep_bookings=keep)
        t3 = time.perf_counter()
        write_plan(new, out / ("new" if keep else "scratch"), force=True)  # with plan.xlsx, as the CLI
        t4 = time.perf_counter()
        prev = previous_plan(files, new.registry)
        r = new.summary["replan"]
        results.append({
            "method": name, "households": len(registry.households), "read": t1 - t0, "checkins": t2 - t1,
            "replan": t3 - t2, "write": t4 - t3, "wall": t4 - t0, "gap": r["replanned"]["gap"],
            "violations": new.summary["violations"] + check(new, prev, sampled, cutoff),
            "replanned": r["replanned"]["households"], "moved": r["moved"] + r["home"],
            "moved_people": r["moved_people"], "unplaced": r["unplaced"], "sampled": r["sampled"],
            "room": r["made_room"],
        })
        print(f"  {name}: {t4 - t0:.1f} s", file=sys.stderr)
    print_table(results)


def print_table(rows: list[dict[str, object]]) -> None:
    """Markdown table (pastes into the README as is)."""
    head = ["method", "households", "read plan s", "check-ins s", "re-plan s", "write s", "wall s", "gap %",
            "violations", "re-planned", "moved households", "moved people", "unplaced", "made room: moved → placed",
            "more moved than re-plan"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    base = rows[0]
    for r in rows:
        gap = "–" if r["gap"] is None else f"{100 * float(r['gap']):.3f}"  # type: ignore[arg-type]
        more = int(r["moved"]) - int(base["moved"])  # type: ignore[call-overload]
        cells = [r["method"], f"{r['households']:,}", f"{r['read']:.1f}", f"{r['checkins']:.1f}", f"{r['replan']:.1f}",
                 f"{r['write']:.1f}", f"{r['wall']:.1f}", gap, r["violations"], f"{r['replanned']:,}",
                 f"{r['moved']:,}", f"{r['moved_people']:,}", f"{r['unplaced']:,}",
                 f"{r['room']['moved']:,} → {r['room']['placed']:,}" if r["room"]["second_pass"] else "–",  # type: ignore[index]
                 "–" if r is base else f"+{more:,}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
