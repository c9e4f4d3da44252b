"""Check-in load of the sampling day on SQLite and PostgreSQL, and live status of a 1 M plan.

A Xi'an-size day (12.3 M people in 24 h) averages ~140 check-ins per second and peaks near 10×
that. For each database: store a 1,000,000-household plan (synthesised tables, as in
benchmarks/api_load.py), start `sampler serve --workers N`, then from a second process post
batches of check-ins (resident codes, unique device ids) at a paced rate — latency measured from
each batch's scheduled time, so queueing shows — and finally ask for the status by grid.

The baseline, measured in the same run on the same database: the status computed by SQL
(check-ins joined to the plan's assignments and buildings, grouped by grid), which is what a
service without the in-memory ledger would run per request.

Run::

    .venv/bin/python benchmarks/checkin_load.py                    # both databases, 20 s per rate
    .venv/bin/python benchmarks/checkin_load.py --households 200000 --seconds 5 --db sqlite

Targets: ≥ 2,000 check-ins/s sustained with p99 ≤ 200 ms; status by grid ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from api_load import _prepare, _serve, bench_backends, household_id, synth_plan  # noqa: E402

SECRET = "benchmark-code-secret-0123456789abcdef"
AREA = "基准市"


async def _client(port: int, seconds: float, rate: float, batch: int, codes_file: str, offset: int,
                  key: str, plan_id: int, concurrency: int = 16) -> dict[str, Any]:
    codes = json.loads(Path(codes_file).read_text(encoding="utf-8"))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    stop = start + seconds
    counter = iter(range(10**9))
    latencies: list[float] = []
    errors = {"status": 0, "io": 0, "rejected": 0}
    accepted = 0
    path = f"/api/v1/plans/{plan_id}/checkins".encode()

    def body(k: int) -> bytes:
        rows = [{"id": f"b{offset}-{k}-{j}", "code": codes[(offset + k * batch + j) % len(codes)], "site_id": "",
                 "at": "2022-11-23T10:00:00+08:00", "people": 1} for j in range(batch)]
        return json.dumps({"checkins": rows}).encode()

    async def worker() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                k = next(counter)
                due = start + k * batch / rate
                if due >= stop:
                    return
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                data = body(k)
                writer.write(b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"X-API-Key: " + key.encode() + b"\r\nContent-Length: " + str(len(data)).encode()
                             + b"\r\n\r\n" + data)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                payload = await reader.readexactly(length)
                latencies.append(loop.time() - due)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors["status"] += 1
                    continue
                answer = json.loads(payload)
                accepted += answer["accepted"]
                errors["rejected"] += len(answer["rejected"])
        except (OSError, asyncio.IncompleteReadError):
            errors["io"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    lat = np.array(latencies) * 1000
    return {"batches": len(lat), "accepted": accepted, "per_s": accepted / seconds, "errors": errors,
            "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
            "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan")}


def _drive(port: int, seconds: float, rate: float, batch: int, codes: Path, offset: int, plan_id: int) -> dict[str, Any]:
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--client", "--port", str(port), "--seconds", str(seconds),
                          "--rate", str(rate), "--batch", str(batch), "--codes", str(codes),
                          "--offset", str(offset), "--plan-id", str(plan_id)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _status_latency(port: int, plan_id: int, n: int = 30) -> tuple[float, float]:
    import httpx

    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": SECRET}, timeout=600) as c:
        for _ in range(n):
            t = time.perf_counter()
            r = c.get(f"/api/v1/plans/{plan_id}/status?by=grid&at=2022-11-23T12:00:00%2B08:00")
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
    return statistics.median(times), float(np.percentile(times, 99))


def _sql_status_ms(url: str, plan_id: int, n: int = 5) -> float:
    """Baseline: status by grid computed by SQL from the stored rows (median of n)."""
    from sqlalchemy import text

    from api.db import make_engine

    engine = make_engine(url)
    sql = text("""
        SELECT b.grid, count(*) AS households, sum(a.size) AS people, count(c.household) AS sampled
        FROM plan_contacts k
        JOIN plan_assignments a ON a.plan_id = k.plan_id AND a.household_id = k.household_id
        JOIN (SELECT DISTINCT plan_id, building_id, grid FROM plan_buildings WHERE plan_id = :p) b
             ON b.plan_id = a.plan_id AND b.building_id = a.building_id
        LEFT JOIN (SELECT household, sum(people) AS people FROM checkins WHERE plan_id = :p GROUP BY household) c
             ON c.household = k.row
        WHERE k.plan_id = :p GROUP BY b.grid""")
    times = []
    with engine.connect() as conn:
        for _ in range(n):
            t = time.perf_counter()
            conn.execute(sql, {"p": plan_id}).fetchall()
            times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each paced rate")
    ap.add_argument("--rates", type=float, nargs="+", default=[2000.0, 4000.0], help="check-ins per second")
    ap.add_argument("--batch", type=int, default=50, help="check-ins per request")
    ap.add_argument("--workers", type=int, default=2, help="`sampler serve --workers`")
    ap.add_argument("--db", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--port", "--rate", "--offset", "--plan-id"):
        ap.add_argument(hidden, type=float if hidden == "--rate" else int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--codes", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(_client(args.port, args.seconds, args.rate, args.batch, args.codes, args.offset,
                                             SECRET, args.plan_id))))
        return

    os.environ["SAMPLER_CODE_SECRET"] = SECRET
    os.environ["SAMPLER_BOOTSTRAP_PLANNER_KEY"] = SECRET
    from sampler.day.codes import resident_codes

    print(f"synthesising a {args.households:,}-household plan ...", flush=True)
    summary, tables = synth_plan(args.households)
    summary["area"] = AREA
    summary["window"] = {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}
    placed = tables["assignments"]["household_id"].tolist()
    t = time.perf_counter()
    codes = resident_codes(AREA, [household_id(i) for i in range(args.households)], SECRET.encode())
    code_seconds = time.perf_counter() - t
    by_id = dict(zip((household_id(i) for i in range(args.households)), codes, strict=True))
    rows: list[tuple[str, str, dict[str, Any] | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="checkin-load-") as tmp:
        codes_file = Path(tmp) / "codes.json"
        codes_file.write_text(json.dumps([by_id[h] for h in placed]), encoding="utf-8")
        with bench_backends(args.db, tmp, "bench") as backends:
            for name, url in backends:
                print(f"[{name}] storing ...", flush=True)
                store = _prepare(url, args.households, (summary, tables))
                print(f"[{name}] stored in {store:.1f} s", flush=True)
                proc, port = _serve(url, args.workers, Path(tmp) / "data")
                try:
                    t = time.perf_counter()
                    for _ in range(args.workers * 3):  # every worker loads the plan's day once
                        _status_latency(port, 1, 1)
                    load = time.perf_counter() - t
                    offset = 0
                    for rate in args.rates:
                        result = _drive(port, args.seconds, rate, args.batch, codes_file, offset, 1)
                        offset += int(rate * args.seconds) + args.batch
                        rows.append((name, f"check-ins paced {rate:,.0f}/s, batches of {args.batch}", result, ""))
                    p50, p99 = _status_latency(port, 1)
                    rows.append((name, "status by grid (in-memory ledger)", None, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"))
                finally:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(timeout=60)
                base = _sql_status_ms(url, 1)
                rows.append((name, "baseline: status by grid in SQL", None, f"median {base:.0f} ms"))
                rows.append((name, "first load of the plan's day (all workers)", None, f"{load:.1f} s"))

    print()
    print(f"Check-ins and live status, {args.households:,}-household plan (synthesised tables), "
          f"{os.cpu_count()} cores, `serve --workers {args.workers}`, {args.seconds:.0f} s per rate; "
          f"codes for every household in {code_seconds:.1f} s")
    print("| database | load | accepted/s | p50 ms | p95 ms | p99 ms | errors | result |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, what, r, note in rows:
        if r is None:
            print(f"| {name} | {what} | | | | | | {note} |")
            continue
        errs = r["errors"]["status"] + r["errors"]["io"] + r["errors"]["rejected"]
        print(f"| {name} | {what} | {r['per_s']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {errs} | |")
    print("\ntargets: ≥ 2,000 check-ins/s with p99 ≤ 200 ms; status by grid of a 1 M plan ≤ 200 ms")


if __name__ == "__main__":
    main()
