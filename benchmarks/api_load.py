"""Resident-lookup load test of the plan service, on SQLite and PostgreSQL.

For each database: store a 1,000,000-household plan (timed; the same `api.storage.store_plan` the
plan jobs use), start `sampler serve --workers N` on loopback (N = 1 and 2), then drive `POST /api/v1/lookup` from a
second process with a small keep-alive asyncio HTTP client, in two phases:

- ``paced``: a fixed arrival rate (default 500/s, the target), latency measured from each request's
  scheduled time, so a slow server cannot hide its queueing (no coordinated omission);
- ``max``: closed loop with a few connections, as many requests as the server takes.

The 1 M plan is made by the planner on a city from `sampler generate` (seed 1, cached under
out/bench/ like benchmarks/plan_scale.py) when that module exists; otherwise (or with
``--source synthetic``) the plan tables are synthesised with numpy in a realistic shape: 40
households per building, buildings called down per 30-min slot, 400 sites, 1 % home visits.
The table says which. Run::

    .venv/bin/python benchmarks/api_load.py                  # both databases, 20 s per phase
    .venv/bin/python benchmarks/api_load.py --households 200000 --seconds 5 --db sqlite

Targets: 500 lookups/s with p99 ≤ 50 ms on 2 cores; storing the 1 M plan in ≤ 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("SAMPLER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HOUSEHOLDS_PER_BUILDING = 40
SITES = 400
SLOTS = 48  # 30-minute slots over 24 h
START = pd.Timestamp("2022-11-23 06:00")


def household_id(i: int) -> str:
    """Code of household i (the client derives the same codes)."""
    return f"H{i:07d}"


def phone(i: int) -> str:
    """Registered phone of household i: its last 4 digits are i mod 10,000."""
    return f"138{i:08d}"


def synth_plan(n: int, seed: int = 0) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """plan.json and the seven plan tables of an n-household area (docs/formats.md columns)."""
    from sampler.io.timefmt import SLOT_FORMAT

    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    n_b = -(-n // HOUSEHOLDS_PER_BUILDING)
    b_of = idx // HOUSEHOLDS_PER_BUILDING
    within = idx % HOUSEHOLDS_PER_BUILDING
    size = rng.integers(1, 6, n)
    b_site = np.arange(n_b) % SITES
    b_slot = (np.arange(n_b) // SITES) % SLOTS
    home = rng.random(n) < 0.01
    unplaced = np.zeros(n, dtype=bool)
    unplaced[rng.choice(n, size=max(1, n // 2000), replace=False)] = True
    labels = np.array([(START + pd.Timedelta(minutes=30 * k)).strftime(SLOT_FORMAT) for k in range(SLOTS + 1)],
                      dtype=object)
    hid = np.array([household_id(i) for i in range(n)], dtype=object)
    bid = np.array([f"B{b:06d}" for b in range(n_b)], dtype=object)
    sid = np.array([f"S{s:04d}" for s in range(SITES)], dtype=object)
    unit = np.array(["1", "2"], dtype=object)[within // 20]
    room = np.array([f"{f}0{k}" for f in range(1, 11) for k in (1, 2)], dtype=object)[within % 20]
    placed = ~unplaced
    slot = b_slot[b_of]
    mode = np.where(home, "home", "site").astype(object)
    team = np.where(home, (idx % 20) + 1, -1)
    from sampler.day.codes import code_secret, resident_codes

    codes = resident_codes("基准市", hid, code_secret())
    assignments = pd.DataFrame({
        "household_id": hid[placed], "code": codes[placed], "building_id": bid[b_of[placed]], "unit": unit[placed], "room": room[placed],
        "size": size[placed], "mode": mode[placed],
        "site_id": np.where(home[placed], "", sid[b_site[b_of[placed]]]),
        "team": pd.array(np.where(home[placed], team[placed], -1), dtype="Int64").astype(object),
        "slot_start": labels[slot[placed]], "slot_end": labels[slot[placed] + 1],
        "walk_minutes": np.where(home[placed], np.nan, rng.uniform(1, 14, placed.sum()).round(1)),
        "over_max_walk": np.zeros(placed.sum(), dtype=np.int64),
        "extra_walk_minutes": np.zeros(placed.sum()),
    })
    assignments.loc[assignments["mode"] == "site", "team"] = np.nan
    at_site = placed & ~home
    load = np.zeros((SITES, SLOTS), dtype=np.int64)
    np.add.at(load, (b_site[b_of[at_site]], slot[at_site]), size[at_site])
    site_load = pd.DataFrame({"site_id": np.repeat(sid, SLOTS), "slot_start": np.tile(labels[:-1], SITES),
                              "people": load.ravel(), "capacity": np.full(SITES * SLOTS, 170)})
    cells = assignments.groupby(["building_id", "mode", "site_id", "slot_start", "slot_end"], sort=True).agg(
        households=("size", "size"), people=("size", "sum")).reset_index()
    b_index = cells["building_id"].str[1:].astype(int).to_numpy()
    buildings = pd.DataFrame({
        "building_id": cells["building_id"], "name": [f"{b % 30 + 1}号楼" for b in b_index],
        "grid": [f"G{b // 30:04d}" for b in b_index], "compound": [f"小区{b // 30:04d}" for b in b_index],
        "risk_zone": "precaution", "mode": cells["mode"], "site_id": cells["site_id"],
        "slot_start": cells["slot_start"], "slot_end": cells["slot_end"],
        "households": cells["households"], "people": cells["people"],
    })
    hv = assignments[assignments["mode"] == "home"]
    home_visits = hv[["household_id", "building_id", "unit", "room", "size", "team", "slot_start", "slot_end"]].assign(
        stop=1, arrival=hv["slot_start"], reason="bedridden")
    unplaced_frame = pd.DataFrame({"household_id": hid[unplaced], "building_id": bid[b_of[unplaced]],
                                   "size": size[unplaced], "reason": "no capacity within the window"})
    sites = pd.DataFrame({"site_id": sid, "name": [f"第{s + 1}采样点" for s in range(SITES)],
                          "lon": 118.3, "lat": 27.0, "tables": 2, "rate": 100.0, "open": "00:00", "close": "24:00",
                          "serves": "", "queue_m": 100.0, "slot_capacity": 170})
    contacts = pd.DataFrame({"household_id": hid, "code": codes, "contact": "户主",
                             "phone": np.array([phone(i) for i in range(n)], dtype=object)})
    summary = {"area": "基准市", "households": n, "people": int(size.sum()), "placed_households": int(placed.sum()),
               "unplaced_households": int(unplaced.sum()), "synthetic": True}
    return summary, {"assignments": assignments, "site_load": site_load, "buildings": buildings,
                     "home_visits": home_visits, "unplaced": unplaced_frame, "sites": sites, "contacts": contacts}


# ----------------------------------------------------------------------------------------------
# Load client (runs in its own process)

async def _client(port: int, seconds: float, rate: float, concurrency: int, pairs_file: str) -> dict[str, Any]:
    pairs = json.loads(Path(pairs_file).read_text(encoding="utf-8"))
    bodies = [json.dumps({"code": c, "phone_last4": d}).encode() for c, d in pairs]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    stop = start + seconds
    counter = iter(range(10**9))
    latencies: list[float] = []
    errors = {"status": 0, "io": 0}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                k = next(counter)
                if rate > 0:
                    due = start + k / rate
                    if due >= stop:
                        return
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    due = loop.time()
                    if due >= stop:
                        return
                body = bodies[k % len(bodies)]
                writer.write(b"POST /api/v1/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(loop.time() - due)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors["status"] += 1
        except (OSError, asyncio.IncompleteReadError):
            errors["io"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    lat = np.array(latencies) * 1000
    elapsed = max(loop.time() - start, 1e-9)
    return {"requests": len(lat), "rps": len(lat) / min(elapsed, seconds + 5), "errors": errors,
            "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
            "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan")}


# ----------------------------------------------------------------------------------------------
# Driver

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(url: str, n: int, frames: tuple[dict[str, Any], dict[str, pd.DataFrame]]) -> float:
    from sqlalchemy import update

    from api.db import make_engine, run_migrations
    from api.models import Plan
    from api.storage import store_plan

    engine = make_engine(url)
    run_migrations(engine)
    summary, tables = frames
    started = time.perf_counter()
    plan_id = store_plan(engine, summary, tables)
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(update(Plan).where(Plan.id == plan_id).values(published=True))
    if engine.dialect.name == "postgresql":
        # After a million-row COPY, autovacuum would VACUUM the new tables and a checkpoint would
        # flush them during the measurement (competing for the same 2 cores); do that now.
        from api.models import PLAN_TABLES

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in PLAN_TABLES.values():
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")
            try:  # flush the gigabyte just written now, not in a checkpoint during the measurement
                conn.exec_driver_sql("CHECKPOINT")
            except Exception as exc:  # needs superuser or pg_checkpoint
                print(f"  (no CHECKPOINT: {exc.__class__.__name__})", flush=True)
    engine.dispose()
    return seconds


def _serve(url: str, workers: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "SAMPLER_DATABASE_URL": url, "SAMPLER_LOOKUP_PER_MINUTE": "0",
           "SAMPLER_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def _drive(port: int, seconds: float, rate: float, concurrency: int, pairs: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--client", "--port", str(port), "--seconds", str(seconds),
                          "--rate", str(rate), "--concurrency", str(concurrency), "--pairs", str(pairs)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _plan_tables(n: int, source: str) -> tuple[tuple[dict[str, Any], dict[str, pd.DataFrame]], str]:
    """The plan to store: made by the planner on a generated city, or synthesised."""
    try:
        from sampler.registry.generate import generate_city, write_city
    except ImportError:
        if source == "planner":
            raise SystemExit("sampler.registry.generate is not available; use --source synthetic") from None
        source = "synthetic"
    if source == "synthetic":
        print(f"synthesising a {n:,}-household plan (numpy; not the planner) ...", flush=True)
        return synth_plan(n), "synthesised tables"
    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.planfiles.write import plan_frames
    from sampler.registry.read import load_registry

    city = ROOT / "out" / "bench" / f"city-{n}-s1"
    if not (city / "scenario.yaml").is_file():
        print(f"generating a {n:,}-household city (seed 1) ...", flush=True)
        write_city(generate_city(n, seed=1), city)
    print(f"planning {city} with the planner ...", flush=True)
    register_all()  # the generated scenario has a sim section
    scenario = load_scenario(city / "scenario.yaml")
    plan = make_plan(scenario, load_registry(scenario))
    return (plan.summary, plan_frames(plan)), "made by the planner"


def _write_pairs(contacts: pd.DataFrame, path: Path, k: int = 200_000) -> Path:
    """A random sample of (household code, last 4 phone digits) that the lookup should find."""
    valid = contacts[contacts["phone"].astype(str).str.fullmatch(r"1[3-9]\d{9}")]
    sample = valid.sample(n=min(k, len(valid)), random_state=1)
    pairs = [[str(c), str(p)[-4:]] for c, p in zip(sample["code"], sample["phone"], strict=True)]
    path.write_text(json.dumps(pairs), encoding="utf-8")
    return path


def _pg_available() -> bool:
    from sqlalchemy import create_engine, text

    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@contextlib.contextmanager
def bench_backends(db: str, tmp: str | Path, prefix: str = "bench") -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of the databases to measure: a SQLite file in ``tmp`` and, when reachable, a
    fresh PostgreSQL schema, dropped afterwards. ``db`` is both, sqlite or postgresql."""
    from sqlalchemy import create_engine, text

    backends: list[tuple[str, str]] = []
    if db in ("both", "sqlite"):
        backends.append(("sqlite", f"sqlite:///{tmp}/{prefix}.db"))
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if db in ("both", "postgresql"):
        if _pg_available():
            with create_engine(PG_URL).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            backends.append(("postgresql", f"{PG_URL}?options=-csearch_path%3D{schema}"))
        else:
            print(f"PostgreSQL not reachable at {PG_URL}; skipped", flush=True)
    try:
        yield backends
    finally:
        if any(name == "postgresql" for name, _ in backends):
            with create_engine(PG_URL).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> None:
    """Store the plan, serve it, load it, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each load phase")
    ap.add_argument("--rate", type=float, default=500.0, help="paced phase: lookups per second")
    ap.add_argument("--concurrency", type=int, default=32, help="paced phase: connections")
    ap.add_argument("--max-concurrency", type=int, default=8, help="max phase: connections")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="`sampler serve --workers` to measure")
    ap.add_argument("--db", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--source", choices=["auto", "planner", "synthetic"], default="auto",
                    help="plan the households with the planner (needs sampler.registry.generate) or synthesise the tables")
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--pairs", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(_client(args.port, args.seconds, args.rate, args.concurrency, args.pairs))))
        return

    t0 = time.perf_counter()
    frames, source = _plan_tables(args.households, args.source)
    print(f"  {time.perf_counter() - t0:.1f} s; {len(frames[1]['assignments']):,} assignments, "
          f"{len(frames[1]['buildings']):,} building slots", flush=True)
    rows: list[tuple[str, str, int, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        pairs = _write_pairs(frames[1]["contacts"], Path(tmp) / "pairs.json")
        with bench_backends(args.db, tmp, "bench") as backends:
            for name, url in backends:
                print(f"[{name}] storing ...", flush=True)
                store = _prepare(url, args.households, frames)
                print(f"[{name}] stored in {store:.1f} s", flush=True)
                for workers in args.workers:
                    proc, port = _serve(url, workers, Path(tmp) / "data")
                    try:
                        _drive(port, 2.0, 0, 4, pairs)  # warm-up
                        paced = _drive(port, args.seconds, args.rate, args.concurrency, pairs)
                        rows.append((name, f"{store:.1f}", workers, f"paced {args.rate:.0f}/s", paced))
                        peak = _drive(port, args.seconds, 0, args.max_concurrency, pairs)
                        rows.append((name, f"{store:.1f}", workers, f"max, {args.max_concurrency} conns", peak))
                    finally:
                        proc.send_signal(signal.SIGINT)
                        proc.wait(timeout=30)

    print()
    print(f"Resident lookups, {args.households:,}-household plan ({source}), "
          f"{os.cpu_count()} cores, {args.seconds:.0f} s per phase")
    print("| database | store plan (s) | workers | load | requests/s | p50 ms | p95 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, store, workers, phase, r in rows:
        errs = r["errors"]["status"] + r["errors"]["io"]
        print(f"| {name} | {store} | {workers} | {phase} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} "
              f"| {r['p99']:.1f} | {errs} |")
    print("\ntargets: ≥ 500 lookups/s with p99 ≤ 50 ms; store ≤ 30 s")


if __name__ == "__main__":
    main()
