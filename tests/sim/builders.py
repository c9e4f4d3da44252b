"""Small SimInputs built in memory for simulator tests (no plan directory involved)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.inputs import SimInputs

__all__ = ["inputs"]


def _ints(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def inputs(
    households: Sequence[tuple[str, int, float, float, int]],
    tables: Sequence[int] = (1,),
    queue_m: float = 100.0,
    hours: tuple[float, float] = (0.0, 1440.0),
    home: Sequence[tuple[str, int, float, int, int]] = (),
    unplaced: Sequence[tuple[str, int]] = (),
    zones: Sequence[int] | None = None,
    pooling: tuple[int, int, int] = (10, 5, 0),
    window_hours: float = 24.0,
) -> SimInputs:
    """A SimInputs from tuples.

    ``households``: (id, site, slot_start, slot_end, size); ``home``: (id, team, slot_start,
    building, size); ``unplaced``: (id, size); ``zones``: zone code per site household.
    """
    n, n_sites = len(households), len(tables)
    zone = _ints(zones if zones is not None else [0] * n)
    return SimInputs(
        window_start="2022-11-23 06:00", window_hours=window_hours,
        site_ids=tuple(f"S{i + 1}" for i in range(n_sites)),
        site_names=tuple(f"site {i + 1}" for i in range(n_sites)),
        tables=_ints(tables), queue_m=np.full(n_sites, queue_m),
        open_at=np.full(n_sites, hours[0]), close_at=np.full(n_sites, hours[1]),
        ids=np.array([h[0] for h in households], dtype=object), site=_ints([h[1] for h in households]),
        slot_start=_floats([h[2] for h in households]), slot_end=_floats([h[3] for h in households]),
        size=_ints([h[4] for h in households]), elderly=np.zeros(n, dtype=np.int64),
        children=np.zeros(n, dtype=np.int64), zone=zone,
        home_ids=np.array([h[0] for h in home], dtype=object), home_team=_ints([h[1] for h in home]),
        home_slot_start=_floats([h[2] for h in home]), home_building=_ints([h[3] for h in home]),
        home_size=_ints([h[4] for h in home]), home_elderly=np.zeros(len(home), dtype=np.int64),
        home_children=np.zeros(len(home), dtype=np.int64), home_zone=np.full(len(home), 2, dtype=np.int64),
        unplaced_ids=np.array([u[0] for u in unplaced], dtype=object), unplaced_size=_ints([u[1] for u in unplaced]),
        unplaced_zone=np.zeros(len(unplaced), dtype=np.int64),
        people=sum(h[4] for h in households) + sum(h[4] for h in home) + sum(u[1] for u in unplaced),
        pooling=pooling,
    )
