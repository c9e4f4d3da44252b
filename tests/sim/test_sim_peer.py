"""The simulator against a peer: the same M/M/c station in Ciw gives the same waits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sim.mmc import mmc_replications

pytest.importorskip("ciw")

from tests.sim.peer import ciw_replications  # noqa: E402


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    """Welch-style check: the difference of means is within 3 standard errors."""
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return abs(a.mean() - b.mean()) <= 3 * se


@pytest.mark.parametrize(("lam", "servers"), [(100.0, 2), (270.0, 5)])
def test_mmc_waits_agree_with_ciw(lam: float, servers: int) -> None:
    """Mean wait and share of people who wait agree with Ciw's within three standard errors."""
    ours_mean, ours_share, _ = mmc_replications(lam, 1.0, servers, hours=40.0, replications=10, seed=5)
    ciw_mean, ciw_share, _ = ciw_replications(lam, 1.0, servers, hours=40.0, replications=10, seed=5)
    assert _agree(ours_mean, ciw_mean)
    assert _agree(ours_share, ciw_share)
