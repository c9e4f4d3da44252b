"""Check-ins against a real server that is killed with SIGKILL mid-stream: after a restart and
re-sends of every batch, nothing is lost and nothing is counted twice."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy import func, select

from api.db import make_engine, run_migrations
from api.models import Checkin
from api.storage import store_plan
from sampler.day.codes import resident_codes
from tests.api.conftest import CODE_SECRET, PLANNER_KEY
from tests.api.test_live_server import Server

AREA = "压测街道"
N = 3000


def _plan_frames() -> dict[str, pd.DataFrame]:
    """A plan of N one-person households in 30 buildings, two sites, slots 06:00-18:00."""
    ids = [f"H{i:05d}" for i in range(N)]
    slot = [f"2022-11-23 {6 + (i % 24) // 2:02d}:{30 * (i % 2):02d}" for i in range(N)]
    end = [(pd.Timestamp(s) + pd.Timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M") for s in slot]
    codes = resident_codes(AREA, ids, CODE_SECRET.encode())
    a = pd.DataFrame({"household_id": ids, "code": codes, "building_id": [f"B{i % 30}" for i in range(N)], "unit": "1",
                      "room": [str(100 + i) for i in range(N)], "size": 1, "mode": "site",
                      "site_id": [f"S{i % 2}" for i in range(N)], "team": "", "slot_start": slot, "slot_end": end,
                      "walk_minutes": 3.0, "over_max_walk": 0, "extra_walk_minutes": 0.0})
    buildings = pd.DataFrame({"building_id": [f"B{b}" for b in range(30)], "name": [f"{b}号楼" for b in range(30)],
                              "grid": [f"G{b % 3}" for b in range(30)], "compound": "压测小区",
                              "risk_zone": "precaution", "mode": "site", "site_id": "S0",
                              "slot_start": "2022-11-23 06:00", "slot_end": "2022-11-23 06:30",
                              "households": 100, "people": 100})
    sites = pd.DataFrame({"site_id": ["S0", "S1"], "name": ["一号点", "二号点"], "lon": [118.3, 118.31],
                          "lat": [27.0, 27.01], "tables": 4, "rate": 80.0, "open": "06:00", "close": "24:00",
                          "serves": "", "queue_m": 100.0, "slot_capacity": 200})
    empty = a.iloc[0:0]
    return {"assignments": a, "site_load": pd.DataFrame(columns=["site_id", "slot_start", "people", "capacity"]),
            "buildings": buildings,
            "home_visits": empty[["household_id", "building_id", "unit", "room", "size", "team"]].assign(
                stop=0, slot_start="", slot_end="", arrival="", reason=""),
            "unplaced": pd.DataFrame(columns=["household_id", "building_id", "size", "reason"]), "sites": sites,
            "contacts": pd.DataFrame({"household_id": ids, "code": codes, "contact": "王五",
                                      "phone": "13800000000"})}


def test_kill_during_a_stream_of_batches_then_resend(database_url: str, tmp_path: Path) -> None:
    """SIGKILL while batches are in flight; acknowledged batches survive, re-sends count once."""
    engine = make_engine(database_url)
    run_migrations(engine)
    summary = {"area": AREA, "households": N, "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}
    plan_id = store_plan(engine, summary, _plan_frames())
    codes = resident_codes(AREA, [f"H{i:05d}" for i in range(N)], CODE_SECRET.encode())
    batches = [[{"id": f"dev-{b}-{j}", "code": codes[b * 50 + j], "site_id": f"S{(b * 50 + j) % 2}",
                 "at": "2022-11-23T10:00:00+08:00", "people": 1} for j in range(50)] for b in range(N // 50)]
    server = Server(database_url, tmp_path / "data")
    server.env["SAMPLER_CODE_SECRET"] = CODE_SECRET
    server.start()
    acknowledged: list[int] = []
    killed = threading.Event()

    def kill() -> None:  # once 20 batches are acknowledged, while the next ones are in flight
        while len(acknowledged) < 20:
            threading.Event().wait(0.001)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        killed.set()

    def stream() -> None:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": PLANNER_KEY}, timeout=10) as c:
            for b, batch in enumerate(batches):
                try:
                    r = c.post(f"/api/v1/plans/{plan_id}/checkins", json={"checkins": batch})
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    acknowledged.append(b)

    killer = threading.Thread(target=kill)
    worker = threading.Thread(target=stream)
    killer.start()
    worker.start()
    worker.join(timeout=300)
    killer.join(timeout=10)
    assert killed.is_set() and not worker.is_alive()
    assert server.proc is not None
    server.proc.wait(timeout=30)
    server.proc = None
    with engine.connect() as conn:
        stored = set(conn.execute(select(Checkin.checkin_id).where(Checkin.plan_id == plan_id)).scalars())
    for b in acknowledged:  # nothing acknowledged was lost
        assert {c["id"] for c in batches[b]} <= stored
    assert 20 <= len(acknowledged) < len(batches)
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": PLANNER_KEY}, timeout=30) as c:
            totals = {"accepted": 0, "duplicates": 0}
            for batch in batches:  # the device re-sends everything it is not sure of: all of it
                r = c.post(f"/api/v1/plans/{plan_id}/checkins", json={"checkins": batch})
                assert r.status_code == 200, r.text
                for k in totals:
                    totals[k] += r.json()[k]
                assert r.json()["rejected"] == []
            assert totals["accepted"] + len(stored) == N and totals["duplicates"] == len(stored)
            area = c.get(f"/api/v1/plans/{plan_id}/status?at=2022-11-23T20:00:00%2B08:00").json()["data"][0]
            assert area["sampled_people"] == N and area["sampled_households"] == N
    finally:
        server.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Checkin)).scalar_one() == N
    engine.dispose()
