"""The same M/M/c station in Ciw, the peer simulator (dev dependency; tests and benchmarks only)."""

from __future__ import annotations

import ciw
import numpy as np

__all__ = ["ciw_replications"]


def ciw_replications(lam_per_hour: float, service_min: float, servers: int, hours: float,
                     replications: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-replication mean wait (minutes) and share who waited in Ciw, and the total served."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam_per_hour / 60)],
        service_distributions=[ciw.dists.Exponential(rate=1 / service_min)],
        number_of_servers=[servers],
    )
    means, shares, people = [], [], 0
    for r in range(replications):
        ciw.seed(seed + r)  # Ciw keeps a global random state; seeded per replication here
        sim = ciw.Simulation(network)
        sim.simulate_until_max_time(hours * 60)
        wait = np.array([rec.waiting_time for rec in sim.get_all_records()])
        means.append(wait.mean())
        shares.append((wait > 0).mean())
        people += len(wait)
    return np.array(means), np.array(shares), people
