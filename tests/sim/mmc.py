"""An M/M/c station run through our simulator in Poisson mode (shared by theory and peer tests)."""

from __future__ import annotations

import numpy as np

from sim.engine import run_replication
from sim.params import SimParams
from tests.sim.builders import inputs

__all__ = ["mmc_replications"]


def mmc_replications(lam_per_hour: float, service_min: float, servers: int, hours: float,
                     replications: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-replication mean wait (minutes) and share who waited, and the total people served."""
    params = SimParams(mode="poisson", poisson_rate_per_hour=lam_per_hour, poisson_service_min=service_min,
                       poisson_hours=hours, relief_teams=1, box_interval_min=600.0)
    station = inputs([], tables=(servers,), hours=(0.0, hours * 60), window_hours=hours)
    means, shares, people = [], [], 0
    for child in np.random.SeedSequence(seed).spawn(replications):
        rec = run_replication(station, params, child)
        wait = rec.start - rec.arrival
        means.append(wait.mean())
        shares.append((wait > 0).mean())
        people += len(wait)
    return np.array(means), np.array(shares), people
