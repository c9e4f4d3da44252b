"""Resident lookups under attack, on SQLite and PostgreSQL.

For each database: store and publish a synthesised plan (`benchmarks/api_load.synth_plan`), start
`sampler serve --workers N` on 127.0.0.1 with the default lookup limit, then run two phases:

- ``baseline``: lookups alone, paced at ``--rate`` (default 2,500/s: ten times the peak of a
  city-wide SMS wave), latency measured from each request's scheduled time (no coordinated
  omission), from ``--clients`` processes of a small keep-alive asyncio HTTP client;
- ``attack``: the same lookups while, at the same time,
  a planner uploads a large XLSX registry (``--upload-households``) again and again,
  another uploads a zip bomb (a sheet of ~100 MB of XML packed into a few hundred kB),
  a plan of ``--store-households`` households is stored into the same database in a loop
  (what a finishing plan job does), and two brute-force clients guess one household's last four
  phone digits as fast as the service lets them: one from a single address, one sending a fresh
  ``X-Forwarded-For`` with every guess.

Residents' lookups arrive through a reverse proxy, so they carry ``X-Forwarded-For`` addresses
spread over 50,000 clients (each stays far below the per-client limit). The table gives p50/p95/p99,
errors (any answer but 200, or a broken connection), what the uploads were answered and how long
they took, and what the right digits got when a brute-force client sent them as its 100th guess (200: found;
404: the household was locked by the wrong guesses before; 429: the client was limited), and the
guesses per household per hour that were really evaluated (a locked household evaluates none). Only 127.0.0.1 is contacted; every phase is bounded.

    .venv/bin/python benchmarks/api_attack.py                      # both databases, 20 s attack
    .venv/bin/python benchmarks/api_attack.py --db sqlite --seconds 10 --rate 1000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import _free_port, bench_backends, synth_plan  # noqa: E402

KEY = "bench-attack-planner-key-0123456789abcdef"
RIGHT_AT = 100  # the brute-force clients' guess that carries the right digits
TARGET = 12_345  # row of the household (in the plan's contacts) whose code the brute-force clients attack


# ----------------------------------------------------------------------------------------------
# Clients (run in their own processes)

def _request(body: bytes, forwarded: str) -> bytes:
    return (b"POST /api/v1/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Forwarded-For: " + forwarded.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return int(head[9:12])


async def _lookups(port: int, seconds: float, rate: float, concurrency: int, pairs_file: str, offset: int,
                   stride: int) -> dict[str, Any]:
    """Paced lookups k = offset, offset + stride, ... (the client processes interleave)."""
    pairs = json.loads(Path(pairs_file).read_text(encoding="utf-8"))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.3
    stop = start + seconds
    counter = iter(range(offset, 10**9, stride))
    latencies: list[float] = []
    errors = {"status": 0, "io": 0}

    async def worker() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            errors["io"] += 1
            return
        try:
            while True:
                k = next(counter)
                due = start + k / rate
                if due >= stop:
                    return
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                h, d = pairs[k % len(pairs)]
                body = json.dumps({"code": h, "phone_last4": d}).encode()
                n = k % 50_000  # residents behind the proxy, each far below the per-client limit
                forwarded = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
                code = await _exchange(reader, writer, _request(body, forwarded))
                latencies.append(loop.time() - due)
                if code != 200:
                    errors["status"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors["io"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"latencies": latencies, "errors": errors, "elapsed": loop.time() - start}


async def _brute(port: int, seconds: float, rotate: bool, connections: int, target: str) -> dict[str, Any]:
    """Guess the last four digits of the household ``target`` (``code:last4``): 0000, 0001, ... as
    fast as answers come, with the right digits as guess number `RIGHT_AT` — long after the
    household's lockout began, so its answer (200 found, 404 locked, 429 limited) shows whether
    the guesses before it were really evaluated."""
    target, right = target.split(":")
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds
    guesses = iter(range(10**9))
    codes: dict[str, int] = {}
    right_answer: list[int] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while loop.time() < stop:
                g = next(guesses)
                digits = right if g == RIGHT_AT else f"{g % 10_000:04d}"
                if g != RIGHT_AT and digits == right:
                    digits = f"{(g + 1) % 10_000:04d}"
                body = json.dumps({"code": target, "phone_last4": digits}).encode()
                forwarded = f"198.18.{(g // 256) % 256}.{g % 256}" if rotate else "198.51.100.7"
                code = await _exchange(reader, writer, _request(body, forwarded))
                codes[str(code)] = codes.get(str(code), 0) + 1
                if g == RIGHT_AT:
                    right_answer.append(code)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            codes["io"] = codes.get("io", 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"codes": codes, "seconds": seconds, "right": right_answer[0] if right_answer else None}


# ----------------------------------------------------------------------------------------------
# Driver

def _files(tmp: Path, households: int) -> tuple[dict[str, tuple[str, bytes]], dict[str, tuple[str, bytes]], str]:
    """A large XLSX upload (households as XLSX, the rest CSV), a zip-bomb upload, and their parameters."""
    from sampler.io.xlsx import Sheet, write_xlsx
    from sampler.registry.generate import generate_city, scenario_text, write_city

    city = generate_city(households, seed=3)
    write_city(city, tmp / "city")
    sheet = Sheet("households")
    frame = city.households
    sheet.append(list(frame.columns), bold=True)
    sheet.extend(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))
    write_xlsx(tmp / "households.xlsx", [sheet])
    params = "\n".join(line for line in scenario_text(city).splitlines() if not line.startswith("registry:"))
    rest = {k: (f"{k}.csv", (tmp / "city" / f"{k}.csv").read_bytes()) for k in ("buildings", "sites")}
    large = {"households": ("households.xlsx", (tmp / "households.xlsx").read_bytes()), **rest}
    buf = io.BytesIO()
    row = b'<row><c t="inlineStr"><is><t>H1</t></is></c><c t="inlineStr"><is><t>B1</t></is></c></row>' * 10_000
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with zipfile.ZipFile(tmp / "households.xlsx") as src:
            for info in src.infolist():
                if not info.filename.startswith("xl/worksheets/"):
                    z.writestr(info, src.read(info))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for _ in range(105_000_000 // len(row)):
                out.write(row)
            out.write(b"</sheetData></worksheet>")
    bomb = {"households": ("households.xlsx", buf.getvalue()), **rest}
    return large, bomb, params


def _uploader(url: str, files: dict[str, tuple[str, bytes]], params: str, stop: threading.Event,
              log: list[tuple[int, float]]) -> None:
    import httpx

    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=600) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                code = c.post("/api/v1/scenarios", files=files, data={"parameters": params}).status_code
            except httpx.HTTPError:
                code = -1
            log.append((code, time.perf_counter() - t0))


def _storer(url: str, households: int, seconds: float) -> subprocess.Popen[str]:
    """A process storing a plan into the database in a loop for ``seconds`` (as plan jobs do)."""
    code = f"""
import sys, time; sys.path.insert(0, {str(ROOT)!r})
from api.jobs import background_priority; background_priority()  # as the service's plan job workers run
from benchmarks.api_load import synth_plan
from api.db import make_engine
from api.storage import store_plan
s, f = synth_plan({households}, seed=5)
e = make_engine({url!r}); stop = time.monotonic() + {seconds}; n = 0; took = []
while time.monotonic() < stop:
    t = time.perf_counter(); store_plan(e, s, f); took.append(time.perf_counter() - t); n += 1
print(n, max(took) if took else 0.0)
"""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _serve(url: str, workers: int, data_dir: Path, redis_url: str = "") -> tuple[subprocess.Popen[bytes], int]:
    import httpx

    port = _free_port()
    env = {**os.environ, "SAMPLER_DATABASE_URL": url, "SAMPLER_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "SAMPLER_BOOTSTRAP_PLANNER_KEY": KEY, "SAMPLER_TRUSTED_PROXIES": "127.0.0.1"}
    if redis_url:  # the limits' counters in Redis (a fresh prefix per run) instead of the SQLite file
        env.update(SAMPLER_REDIS_URL=redis_url, SAMPLER_REDIS_PREFIX=f"bench{port}:")
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def _client(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--client", *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=600)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _lookup_phase(port: int, seconds: float, rate: float, clients: int, concurrency: int, pairs: Path) -> list[Any]:
    return [_client(["lookups", str(port), str(seconds), str(rate), str(concurrency), str(pairs), str(i), str(clients)])
            for i in range(clients)]


def _summarise(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    lat = np.array([x for r in results for x in r["latencies"]]) * 1000
    errors = sum(r["errors"]["status"] + r["errors"]["io"] for r in results)

    def pct(q: float) -> float:
        return float(np.percentile(lat, q)) if len(lat) else float("nan")

    elapsed = max([seconds, *(r["elapsed"] for r in results)])  # answers still arriving after the phase count
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "errors": errors}


def _prepare(url: str, households: int) -> tuple[Path, str]:
    from sqlalchemy import update

    from api.db import make_engine, run_migrations
    from api.models import Plan
    from api.storage import store_plan

    summary, frames = synth_plan(households)
    engine = make_engine(url)
    run_migrations(engine)
    plan_id = store_plan(engine, summary, frames)
    with engine.begin() as conn:
        conn.execute(update(Plan).where(Plan.id == plan_id).values(published=True))
    engine.dispose()
    contacts = frames["contacts"].sample(n=min(100_000, households), random_state=1)
    pairs = [[str(c), str(p)[-4:]] for c, p in zip(contacts["code"], contacts["phone"], strict=True)]
    path = Path(tempfile.mkstemp(prefix="attack-pairs-", suffix=".json")[1])
    path.write_text(json.dumps(pairs), encoding="utf-8")
    return path, f'{frames["contacts"]["code"].iloc[TARGET]}:{str(frames["contacts"]["phone"].iloc[TARGET])[-4:]}'


def _run_backend(name: str, url: str, args: argparse.Namespace, large: Any, bomb: Any, params: str,
                 data_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, dict[str, Any]]] = []
    print(f"[{name}] storing and publishing a {args.households:,}-household plan ...", flush=True)
    pairs, target = _prepare(url, args.households)
    proc, port = _serve(url, args.workers, data_dir, args.redis_url)
    base = f"http://127.0.0.1:{port}"
    try:
        _result(_client(["lookups", str(port), "2", "200", "8", str(pairs), "0", "1"]))  # warm-up
        print(f"[{name}] baseline: {args.rate:.0f} lookups/s for {args.baseline:.0f} s", flush=True)
        base_res = [_result(p) for p in _lookup_phase(port, args.baseline, args.rate, args.clients, args.concurrency, pairs)]
        rows.append((name, "baseline: lookups alone", _summarise(base_res, args.baseline)))
        print(f"[{name}] attack: {args.rate:.0f} lookups/s for {args.seconds:.0f} s with uploads, bomb, store, brute force",
              flush=True)
        stop = threading.Event()
        logs: dict[str, list[tuple[int, float]]] = {"large": [], "bomb": []}
        threads = [threading.Thread(target=_uploader, args=(base, files, params, stop, logs[kind]), daemon=True)
                   for kind, files in (("large", large), ("bomb", bomb))]
        for t in threads:
            t.start()
        storer = _storer(url, args.store_households, args.seconds + 1)
        time.sleep(1.0)
        brutes = [_client(["brute", str(port), str(args.seconds), str(int(rotate)), "2", target])
                  for rotate in (False, True)]
        lookups = _lookup_phase(port, args.seconds, args.rate, args.clients, args.concurrency, pairs)
        attack_res = [_result(p) for p in lookups]
        brute_res = [_result(p) for p in brutes]
        stop.set()
        stored = (storer.communicate(timeout=600)[0] or "0 0").split()
        for t in threads:
            t.join(timeout=600)
        summary = _summarise(attack_res, args.seconds)
        summary["uploads"] = dict(logs)
        summary["stored"] = (int(stored[0]), float(stored[1]))
        summary["brute"] = brute_res
        rows.append((name, "attack", summary))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        pairs.unlink(missing_ok=True)
    return rows


def _print(rows: list[tuple[str, str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    print(f"Lookups paced at {args.rate:,.0f}/s, {args.households:,}-household published plan, `sampler serve "
          f"--workers {args.workers}`, {args.clients} client processes, {os.cpu_count()} cores (shared), "
          f"limits in {'Redis' if args.redis_url else 'the SQLite file'}")
    print("(lookups/s: answers per second until the last answer arrived; latency from each lookup's scheduled time)")
    print("| database | phase | lookups/s | p50 ms | p95 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, phase, r in rows:
        print(f"| {name} | {phase} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} |")
    print()
    print("(answers to wrong digits; after 5 wrong tries the household is locked for 15 minutes and every")
    print(" answer is 404, the right digits included: the 'right digits' column is what they got)")
    print(f"| database | attacker | answers | right digits (guess {RIGHT_AT}) answered "
          "| guesses per household per hour, at most |")
    print("| --- | --- | --- | --- | ---: |")
    for name, phase, r in rows:
        if phase != "attack":
            continue
        for label, b in zip(("one address", "fresh X-Forwarded-For each"), r["brute"], strict=True):
            right = {200: "200: found", 404: "404: locked", 429: "429: limited", None: "not reached"}.get(
                b["right"], str(b["right"]))
            answered = b["codes"].get("200", 0) + b["codes"].get("404", 0)
            # Locked answers evaluate nothing: a household takes 5 wrong tries per 15 minutes.
            bound = min(answered / b["seconds"] * 3600, 5 * 60 / 15) if b["right"] != 200 else answered / b["seconds"] * 3600
            print(f"| {name} | {label} | {json.dumps(b['codes'], sort_keys=True)} | {right} | {bound:,.0f} |")
    print()
    print("| database | concurrent work | answers | longest (s) |")
    print("| --- | --- | --- | ---: |")
    for name, phase, r in rows:
        if phase != "attack":
            continue
        for kind, label in (("large", f"XLSX upload, {args.upload_households:,} households"), ("bomb", "zip-bomb upload")):
            log = r["uploads"][kind]
            codes: dict[int, int] = {}
            for code, _ in log:
                codes[code] = codes.get(code, 0) + 1
            print(f"| {name} | {label} | {codes} | {max((s for _, s in log), default=0):.1f} |")
        print(f"| {name} | plan store, {args.store_households:,} households | {r['stored'][0]} stored "
              f"| {r['stored'][1]:.1f} |")


def main() -> None:
    """Prepare, serve, attack, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=200_000, help="households of the published plan")
    ap.add_argument("--rate", type=float, default=2500.0, help="lookups per second (paced)")
    ap.add_argument("--seconds", type=float, default=20.0, help="attack phase duration")
    ap.add_argument("--baseline", type=float, default=10.0, help="baseline phase duration")
    ap.add_argument("--workers", type=int, default=2, help="`sampler serve --workers`")
    ap.add_argument("--clients", type=int, default=2, help="lookup client processes")
    ap.add_argument("--concurrency", type=int, default=64, help="connections per lookup client")
    ap.add_argument("--upload-households", type=int, default=50_000)
    ap.add_argument("--store-households", type=int, default=100_000)
    ap.add_argument("--db", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--redis-url", default="", help="keep the lookup limits in this Redis (SAMPLER_REDIS_URL), "
                    "e.g. redis://127.0.0.1:6379/0; default: the embedded SQLite file")
    ap.add_argument("--client", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        kind, rest = args.client[0], args.client[1:]
        if kind == "lookups":
            port, seconds, rate, conc, pairs, offset, stride = rest
            out = asyncio.run(_lookups(int(port), float(seconds), float(rate), int(conc), pairs, int(offset), int(stride)))
        else:
            port, seconds, rotate, conns, target = rest
            out = asyncio.run(_brute(int(port), float(seconds), rotate == "1", int(conns), target))
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="api-attack-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"writing a {args.upload_households:,}-household XLSX and a zip bomb ...", flush=True)
        large, bomb, params = _files(tmp, args.upload_households)
        print(f"  XLSX {len(large['households'][1]) / 2**20:.1f} MB, bomb {len(bomb['households'][1]) / 2**10:.0f} kB",
              flush=True)
        rows: list[tuple[str, str, dict[str, Any]]] = []
        with bench_backends(args.db, tmp, "attack") as backends:
            for name, url in backends:
                rows += _run_backend(name, url, args, large, bomb, params, tmp / f"data-{name}")
    _print(rows, args)


if __name__ == "__main__":
    main()
