"""Walking times from buildings to sites, and which sites each building may use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from sampler.model import BuildingTable, RiskZone, Site
from sampler.params import WalkParams

__all__ = ["Candidates", "candidate_sites", "project", "sites_within"]

EARTH_RADIUS_M = 6_371_000.0


def project(lon: npt.ArrayLike, lat: npt.ArrayLike, lat0: float, lon0: float) -> npt.NDArray[np.float64]:
    """Equirectangular projection to metres around (lon0, lat0); exact enough within a city."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    x = np.radians(lon_a - lon0) * np.cos(np.radians(lat0)) * EARTH_RADIUS_M
    y = np.radians(lat_a - lat0) * EARTH_RADIUS_M
    return np.column_stack([x, y])


@dataclass(frozen=True, eq=False)
class Candidates:
    """Building → site arcs, sorted by building then walking time.

    Attributes
    ----------
    building, site
        Indices into the building table and the site tuple.
    walk
        Walking minutes (straight line × detour ÷ speed).
    home_reason
        Per building: '' if it uses sites, otherwise why its households are visited at home.
    """

    building: npt.NDArray[np.int64]
    site: npt.NDArray[np.int64]
    walk: npt.NDArray[np.float64]
    home_reason: npt.NDArray[np.object_]


def candidate_sites(
    buildings: BuildingTable, sites: tuple[Site, ...], walk: WalkParams, k: int
) -> Candidates:
    """The sites each building may use.

    Public sites: the ``k`` nearest. Exclusive sites (``Site.serves``): every building of the
    compounds they serve. Controlled-zone (管控区) buildings use only their compound's exclusive
    sites, and are visited at home when there is none; sealed (封控区) buildings are visited at home.
    """
    n_b = len(buildings)
    lat0 = float(np.mean(buildings.lat)) if n_b else 0.0
    lon0 = float(np.mean(buildings.lon)) if n_b else 0.0
    bxy = project(buildings.lon, buildings.lat, lat0, lon0)
    sxy = project([s.lon for s in sites], [s.lat for s in sites], lat0, lon0).reshape(-1, 2)
    m_per_min = walk.speed_m_per_min / walk.detour_factor
    zone = np.asarray(buildings.zone)
    home_reason = np.full(n_b, "", dtype=object)
    home_reason[zone == RiskZone.SEALED] = "sealed zone (封控区): door-to-door"

    public = np.array([i for i, s in enumerate(sites) if not s.serves], dtype=np.int64)
    parts_b: list[npt.NDArray[np.int64]] = []
    parts_s: list[npt.NDArray[np.int64]] = []
    open_b = np.flatnonzero(zone == RiskZone.PRECAUTION)
    if len(public) and len(open_b):
        kk = min(k, len(public))
        _, idx = cKDTree(sxy[public]).query(bxy[open_b], k=kk)
        idx = np.asarray(idx).reshape(len(open_b), kk)
        parts_b.append(np.repeat(open_b, kk))
        parts_s.append(public[idx.ravel()])

    by_compound: dict[str, list[int]] = {}
    for i, one in enumerate(sites):
        for c in one.serves:
            by_compound.setdefault(c, []).append(i)
    if by_compound:
        compound = np.asarray(buildings.compound)
        for c, site_ids in sorted(by_compound.items()):
            members = np.flatnonzero((compound == c) & (zone != RiskZone.SEALED))
            if len(members):
                parts_b.append(np.repeat(members, len(site_ids)))
                parts_s.append(np.tile(np.asarray(site_ids, dtype=np.int64), len(members)))
    controlled = zone == RiskZone.CONTROLLED
    b = np.concatenate(parts_b) if parts_b else np.zeros(0, dtype=np.int64)
    s = np.concatenate(parts_s) if parts_s else np.zeros(0, dtype=np.int64)
    has_site = np.zeros(n_b, dtype=bool)
    has_site[b] = True
    home_reason[controlled & ~has_site] = "controlled zone (管控区) without a site of its own: door-to-door"

    dist = np.hypot(*(bxy[b] - sxy[s]).T) if len(b) else np.zeros(0)
    minutes = np.round(dist / m_per_min, 1)
    order = np.lexsort((s, minutes, b))
    return Candidates(building=b[order], site=s[order], walk=minutes[order], home_reason=home_reason)


def sites_within(
    buildings: BuildingTable, sites: tuple[Site, ...], walk: WalkParams, which: npt.NDArray[np.int64], k: int,
    max_minutes: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Up to ``k`` nearest public sites of buildings ``which`` within ``max_minutes`` walk (the k-d
    tree and rounding of `candidate_sites`): (building, site, minutes) arcs sorted like
    `Candidates`, and per building of ``which`` whether its query was cut off at ``k`` (more sites
    may lie within reach)."""
    public = np.array([i for i, s in enumerate(sites) if not s.serves], dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if not len(public) or not len(which):
        return empty, empty, np.zeros(0), np.zeros(len(which), dtype=bool)
    lat0, lon0 = float(np.mean(buildings.lat)), float(np.mean(buildings.lon))
    bxy = project(np.asarray(buildings.lon)[which], np.asarray(buildings.lat)[which], lat0, lon0)
    sxy = project([sites[i].lon for i in public], [sites[i].lat for i in public], lat0, lon0).reshape(-1, 2)
    m_per_min = walk.speed_m_per_min / walk.detour_factor
    kk = min(k, len(public))
    # A little beyond the reach in metres: the rounded minutes decide, as in candidate_sites.
    dist, idx = cKDTree(sxy).query(bxy, k=kk, distance_upper_bound=(max_minutes + 0.05) * m_per_min)
    dist, idx = np.asarray(dist).reshape(len(which), kk), np.asarray(idx).reshape(len(which), kk)
    found = np.isfinite(dist)
    minutes = np.round(np.where(found, dist, 0.0) / m_per_min, 1)
    keep = found & (minutes <= max_minutes)
    cut = keep[:, -1] if kk < len(public) else np.zeros(len(which), dtype=bool)
    b = np.repeat(which, kk).reshape(len(which), kk)[keep]
    s = public[np.where(keep, idx, 0)][keep]
    m = minutes[keep]
    order = np.lexsort((s, m, b))
    return b[order].astype(np.int64), s[order].astype(np.int64), m[order], cut
