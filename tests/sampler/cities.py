"""Small in-memory cities for planner tests (no files involved)."""

from __future__ import annotations

import numpy as np

from sampler.model import PERIODS, BuildingTable, HouseholdTable, Registry, RiskZone, Site

LON0, LAT0 = 118.32, 27.03
M_PER_DEG_LAT = 111_195.0


def offset(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of a point x_m east and y_m north of the test centre."""
    lon = LON0 + x_m / (M_PER_DEG_LAT * np.cos(np.radians(LAT0)))
    return float(lon), LAT0 + y_m / M_PER_DEG_LAT


def registry(
    buildings: list[tuple[str, float, float, RiskZone, str]],
    households: list[tuple[str, str, int]],
    sites: list[Site],
    needs: dict[str, int] | None = None,
    preferred: dict[str, int] | None = None,
) -> Registry:
    """A registry from plain tuples.

    ``buildings``: (id, x_m, y_m, zone, compound); ``households``: (id, building_id, size).
    """
    b_ids = [b[0] for b in buildings]
    coords = [offset(b[1], b[2]) for b in buildings]
    bt = BuildingTable(
        id=np.array(b_ids, dtype=object), name=np.array(b_ids, dtype=object),
        grid=np.array(["G1"] * len(b_ids), dtype=object), compound=np.array([b[4] for b in buildings], dtype=object),
        lon=np.array([c[0] for c in coords]), lat=np.array([c[1] for c in coords]),
        zone=np.array([int(b[3]) for b in buildings], dtype=np.int64),
    )
    index = {bid: i for i, bid in enumerate(b_ids)}
    n = len(households)
    needs = needs or {}
    preferred = preferred or {}
    ht = HouseholdTable(
        id=np.array([h[0] for h in households], dtype=object),
        building=np.array([index[h[1]] for h in households], dtype=np.int64),
        unit=np.array(["1"] * n, dtype=object), room=np.array([str(101 + i) for i in range(n)], dtype=object),
        size=np.array([h[2] for h in households], dtype=np.int64),
        elderly=np.zeros(n, dtype=np.int64), children=np.zeros(n, dtype=np.int64),
        contact=np.array(["张三"] * n, dtype=object), phone=np.array(["13800138000"] * n, dtype=object),
        needs=np.array([needs.get(h[0], 0) for h in households], dtype=np.int64),
        preferred=np.array([preferred.get(h[0], 0) for h in households], dtype=np.int64),
    )
    return Registry(households=ht, buildings=bt, sites=tuple(sites), hashes={"households": "test"})


def site(sid: str, x_m: float, y_m: float, tables: int = 1, rate: float = 20.0, serves: tuple[str, ...] = ()) -> Site:
    """A site x_m east and y_m north of the centre."""
    lon, lat = offset(x_m, y_m)
    return Site(sid, f"site {sid}", lon, lat, tables, rate, 0, 1440, serves, 100.0)


def random_city(seed: int, n_buildings: int, n_sites: int, extent_m: float = 1500.0,
                sealed_share: float = 0.0) -> Registry:
    """A random city: buildings and sites scattered over a square, households of 1–6 people."""
    rng = np.random.default_rng(seed)
    bxy = rng.uniform(0, extent_m, size=(n_buildings, 2))
    zones = np.where(rng.random(n_buildings) < sealed_share, RiskZone.SEALED, RiskZone.PRECAUTION)
    buildings = [(f"B{i}", float(x), float(y), RiskZone(int(z)), f"C{i % 5}") for i, ((x, y), z) in enumerate(zip(bxy, zones, strict=True))]
    households = []
    for i in range(n_buildings):
        for j in range(int(rng.integers(1, 12))):
            households.append((f"H{i}-{j}", f"B{i}", int(rng.choice([1, 2, 2, 3, 3, 4, 5, 6]))))
    sxy = rng.uniform(0, extent_m, size=(n_sites, 2))
    sites = [site(f"S{k}", float(x), float(y), tables=int(rng.integers(1, 3)), rate=float(rng.integers(10, 40)))
             for k, (x, y) in enumerate(sxy)]
    return registry(buildings, households, sites)


def tiny_city(rng: np.random.Generator, max_buildings: int, min_households: int, max_rate: int,
              preferring: float) -> Registry:
    """A tiny random city for exact-optimum checks: 1..max_buildings buildings and 1–2 sites within
    900 m, min_households..6 households of 1–4 people, each preferring a random period with
    probability ``preferring`` (all drawn from ``rng``)."""
    n_b = int(rng.integers(1, max_buildings + 1))
    buildings = [(f"B{i}", float(rng.uniform(0, 900)), float(rng.uniform(0, 900)), RiskZone.PRECAUTION, "c")
                 for i in range(n_b)]
    households = [(f"H{j}", f"B{int(rng.integers(0, n_b))}", int(rng.integers(1, 5)))
                  for j in range(int(rng.integers(min_households, 7)))]
    sites = [site(f"S{k}", float(rng.uniform(0, 900)), float(rng.uniform(0, 900)), rate=float(rng.integers(4, max_rate + 1)))
             for k in range(int(rng.integers(1, 3)))]
    pref = {h[0]: int(rng.integers(0, len(PERIODS))) for h in households if rng.random() < preferring}
    return registry(buildings, households, sites, preferred=pref)
