"""What the file-safety checks cost at city scale, against a baseline measured in the same run.

    python benchmarks/files_safety.py                    # 1 M households
    python benchmarks/files_safety.py --households 200000 --repeat 5

Rows (best of --repeat runs, seconds: the machine may be shared, the minimum is the cost):

* read households.csv: `read_table` as shipped, and with the cell checks (NUL, cell length,
  rows, columns; `sampler.io.workbook.check_cells`) replaced by a no-op;
* neutralise the plan tables: `neutralise_table` over the Arrow tables of assignments and
  contacts as `write_plan` builds them (nothing to change: the usual case), and with a
  formula-like contact in every 1,000th row;
* survey + marker: what `atomic_directory` adds around writing a plan directory (stale clean-up,
  survey of an earlier output, 0600/0700 modes and the marker), against writing the same files
  with a plain rename.

The city comes from `sampler generate` (seed 1), cached under out/bench/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pyarrow as pa

    from sampler.io.atomic import atomic_directory
    from sampler.io.csvsafe import neutralise_table
    from sampler.planfiles.write import _csv_header, _write_table, plan_frames
    from sampler.registry import read
    from sampler.registry.generate import generate_city, write_city

    city = ROOT / "out" / "bench" / f"city-{args.households}-s1"
    if not (city / "scenario.yaml").is_file():
        write_city(generate_city(args.households, seed=1), city)
    path = city / "households.csv"
    rows: list[tuple[str, float, float]] = []

    shipped = _best(lambda: read.read_table(path, "households"), args.repeat)
    checks = read.check_cells
    read.check_cells = lambda *a, **k: None  # type: ignore[assignment]
    try:
        bare = _best(lambda: read.read_table(path, "households"), args.repeat)
    finally:
        read.check_cells = checks
    rows.append(("read households.csv (cell checks)", bare, shipped))

    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.plan.baselines import greedy_plan

    register_all()  # the generated scenario has a sim section
    scenario = load_scenario(city / "scenario.yaml")
    plan = greedy_plan(scenario, read.load_registry(scenario))
    frames = plan_frames(plan)
    tables = [pa.Table.from_pandas(frames[n], preserve_index=False) for n in ("assignments", "contacts")]
    rows.append(("neutralise assignments + contacts", 0.0,
                 _best(lambda: [neutralise_table(t) for t in tables], args.repeat)))
    contacts = frames["contacts"].copy()
    contacts.loc[contacts.index[::1000], "contact"] = "=HYPERLINK(1)"
    hostile = pa.Table.from_pandas(contacts, preserve_index=False)
    rows.append(("  … with a formula every 1,000 rows", 0.0, _best(lambda: neutralise_table(hostile), args.repeat)))

    arrow = {name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items()}

    def write_files(directory: Path) -> None:  # the tables as write_plan writes them (Arrow)
        for name, table in arrow.items():
            _write_table(_csv_header(frames[name]), table, directory / f"{name}.csv")

    with tempfile.TemporaryDirectory(prefix="files-bench-") as tmp:
        base = Path(tmp)

        def plain() -> None:
            staging = base / ".plain.partial"
            staging.mkdir()
            write_files(staging)
            if (base / "plain").exists():
                os.rename(base / "plain", base / ".plain.old")
            os.rename(staging, base / "plain")
            shutil.rmtree(base / ".plain.old", ignore_errors=True)

        def atomic() -> None:
            with atomic_directory(base / "atomic", "plan") as out:
                write_files(out)

        rows.append(("write plan CSVs (survey, modes, marker)", _best(plain, args.repeat),
                     _best(atomic, args.repeat)))

    print(f"{args.households:,} households, best of {args.repeat} (seconds)")
    print(f"{'step':<44}{'baseline':>10}{'shipped':>10}{'added':>10}")
    for name, before, after in rows:
        print(f"{name:<44}{before:>10.3f}{after:>10.3f}{after - before:>10.3f}")


if __name__ == "__main__":
    main()
