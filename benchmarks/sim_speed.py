"""Simulator speed: people per second against Ciw on M/M/c, and one full day for 1,000,000 people.

Run:  .venv/bin/python benchmarks/sim_speed.py [--people 1000000] [--plan PLANDIR --scenario FILE]

Prints a markdown table. The M/M/c rows run the same station (same λ, μ, c, horizon) in this
simulator's Poisson mode and in Ciw, and show both mean waits next to Erlang C. The full-day row
uses a plan written by `sampler plan` when ``--plan``/``--scenario`` are given; otherwise it builds
the plan-equivalent arrays directly (400 sites, slots over 06:00–22:00, 1 % home visits) and says so.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.engine import run_replication  # noqa: E402
from sim.inputs import SimInputs  # noqa: E402
from sim.params import SimParams  # noqa: E402
from sim.stats import replication_stats  # noqa: E402
from sim.theory import mmc_mean_wait  # noqa: E402

MMC_CASES = [  # (arrivals per hour, mean service minutes, tables, hours)
    (100.0, 1.0, 2, 400.0),
    (240.0, 1.0, 5, 400.0),
]


def ours_mmc(lam: float, service: float, servers: int, hours: float, seed: int) -> tuple[float, int, float]:
    """Wall seconds, people served and mean wait of one long M/M/c run of this simulator."""
    params = SimParams(mode="poisson", poisson_rate_per_hour=lam, poisson_service_min=service,
                       poisson_hours=hours, relief_teams=1, box_interval_min=600.0)
    station = synthetic_station(servers, hours)
    t0 = time.perf_counter()
    rec = run_replication(station, params, seed)
    wall = time.perf_counter() - t0
    return wall, len(rec), float((rec.start - rec.arrival).mean())


def ciw_mmc(lam: float, service: float, servers: int, hours: float, seed: int) -> tuple[float, int, float]:
    """The same station in Ciw."""
    import ciw

    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=lam / 60)],
                                 service_distributions=[ciw.dists.Exponential(rate=1 / service)],
                                 number_of_servers=[servers])
    ciw.seed(seed)
    t0 = time.perf_counter()
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(hours * 60)
    records = sim.get_all_records()
    wall = time.perf_counter() - t0
    return wall, len(records), float(np.mean([r.waiting_time for r in records]))


def synthetic_station(servers: int, hours: float) -> SimInputs:
    """One site open for ``hours`` with ``servers`` tables and nobody planned (Poisson mode)."""
    return _inputs(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64),
                   np.zeros(0, dtype=np.int64), np.array([servers]), hours * 60, hours, 0)


def _inputs(site: np.ndarray, slot_start: np.ndarray, size: np.ndarray, zone: np.ndarray,
            tables: np.ndarray, close: float, hours: float, n_home: int, rng: np.random.Generator | None = None
            ) -> SimInputs:
    n, n_sites = len(site), len(tables)
    ints = np.zeros(n, dtype=np.int64)
    home_team = (np.arange(n_home) % 40).astype(np.int64)
    home_slot = np.sort(rng.integers(0, 32, n_home) * 30.0) if rng is not None else np.zeros(0)
    home_size = np.full(n_home, 2, dtype=np.int64)
    return SimInputs(
        window_start="2022-11-23 06:00", window_hours=24.0 if n else hours,
        site_ids=tuple(f"S{i + 1}" for i in range(n_sites)), site_names=tuple(f"site {i + 1}" for i in range(n_sites)),
        tables=tables.astype(np.int64), queue_m=np.full(n_sites, 100.0), open_at=np.zeros(n_sites),
        close_at=np.full(n_sites, close),
        ids=np.array([f"H{i}" for i in range(n)], dtype=object), site=site, slot_start=slot_start,
        slot_end=slot_start + 30, size=size, elderly=(size >= 3).astype(np.int64), children=ints,
        zone=zone, home_ids=np.array([f"V{i}" for i in range(n_home)], dtype=object), home_team=home_team,
        home_slot_start=home_slot, home_building=np.arange(n_home, dtype=np.int64) // 3,
        home_size=home_size, home_elderly=np.zeros(n_home, dtype=np.int64),
        home_children=np.zeros(n_home, dtype=np.int64), home_zone=np.full(n_home, 2, dtype=np.int64),
        unplaced_ids=np.zeros(0, dtype=object), unplaced_size=np.zeros(0, dtype=np.int64),
        unplaced_zone=np.zeros(0, dtype=np.int64),
        people=int(size.sum() + home_size.sum()),
    )


def synthetic_city(people: int, seed: int = 0) -> SimInputs:
    """Plan-equivalent arrays for ``people`` residents: 1 site per 2,500, 1 table per 700.

    Households (census mix, 2.6 people on average) are spread evenly over the 32 half-hour
    slots from 06:00 to 22:00 at each site, 80/15/5 % precaution/controlled/sealed, and 1 % of
    households go to 40 home-visit teams.
    """
    rng = np.random.default_rng(seed)
    size = rng.choice([1, 2, 3, 4, 5], p=[0.17, 0.3, 0.28, 0.15, 0.1], size=int(people / 2.6) + 1000)
    size = size[np.cumsum(size) <= people * 0.99].astype(np.int64)
    n = len(size)
    n_sites = max(people // 2500, 1)
    site = (np.arange(n) % n_sites).astype(np.int64)
    slot = (np.arange(n) // n_sites) * 32 // (n // n_sites + 1)
    tables = np.full(n_sites, max(round(2500 / 700), 1))
    zone = rng.choice(3, n, p=[0.8, 0.15, 0.05]).astype(np.int64)
    return _inputs(site, slot * 30.0, size, zone, tables, 16 * 60.0, 24.0, int(n * 0.01 / 0.99), rng)


def planned_city(scenario_path: Path, plan_dir: Path) -> tuple[SimInputs, float]:
    """SimInputs from a real plan directory, and the seconds spent reading and joining it."""
    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.planfiles.read import read_plan
    from sampler.registry.read import load_registry  # type: ignore[import-not-found,unused-ignore]
    from sim.inputs import prepare

    register_all()  # the scenario's sim section
    t0 = time.perf_counter()
    scenario = load_scenario(scenario_path)
    inputs = prepare(scenario, load_registry(scenario), read_plan(plan_dir))
    return inputs, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--plan", type=Path, help="plan directory written by `sampler plan`")
    parser.add_argument("--scenario", type=Path, help="the scenario the plan was made for")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print("| set-up | simulator | people | wall s | people/s | mean wait min | Erlang C min |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for lam, service, servers, hours in MMC_CASES:
        theory = mmc_mean_wait(lam / 60, 1 / service, servers)
        label = f"M/M/{servers} λ={lam:g}/h μ={60 / service:g}/h {hours:g} h"
        rates = []
        for name, fn in (("this (SimPy)", ours_mmc), ("Ciw", ciw_mmc)):
            wall, n, wait = fn(lam, service, servers, hours, args.seed)
            rates.append(n / wall)
            print(f"| {label} | {name} | {n:,} | {wall:.2f} | {n / wall:,.0f} | {wait:.3f} | {theory:.3f} |")
        print(f"| {label} | speed-up | | | {rates[0] / rates[1]:.1f}× | | |")

    if args.plan and args.scenario:
        inputs, read_s = planned_city(args.scenario, args.plan)
        source = f"plan {args.plan} (read + join {read_s:.1f} s, not included)"
    else:
        inputs = synthetic_city(args.people, args.seed)
        source = "plan-equivalent arrays built directly (no planner run)"
    params = SimParams()
    t0 = time.perf_counter()
    rec = run_replication(inputs, params, args.seed)
    t1 = time.perf_counter()
    stats = replication_stats(rec, params)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    people = int(rec.size.sum())
    print()
    print(f"Full day: {inputs.people:,} registered people, {len(rec):,} household records, "
          f"{inputs.n_sites} sites, {int(inputs.tables.sum())} tables; source: {source}")
    print()
    print("| step | wall s | people/s |")
    print("| --- | ---: | ---: |")
    print(f"| one replication (engine) | {t1 - t0:.2f} | {people / (t1 - t0):,.0f} |")
    print(f"| statistics from records | {t2 - t1:.2f} | |")
    print(f"| total | {t2 - t0:.2f} | {people / (t2 - t0):,.0f} |")
    print(f"| peak RSS of this process | {peak_mb:,.0f} MB | |")
    f = stats.figures
    print()
    print(f"target met: {f['target_met']}; sampled by window end {f['sampled_by_window_end']:.1%}; "
          f"wait p95 {f['wait_p95_min']:.1f} min; utilisation {f['utilisation']:.0%}; "
          f"boxes {f['boxes']:,} (late {f['late_boxes']})")


if __name__ == "__main__":
    main()
