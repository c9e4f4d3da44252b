"""The simulator against queueing theory: M/M/c waits match Erlang C."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.theory import erlang_c, mmc_mean_wait
from tests.sim.mmc import mmc_replications


def test_erlang_c_textbook_value() -> None:
    """Erlang C for λ=2, μ=1, c=3 is 4/9 (the textbook example)."""
    assert math.isclose(erlang_c(2.0, 1.0, 3), 4 / 9)
    assert math.isclose(mmc_mean_wait(2.0, 1.0, 3), (4 / 9) / (3 - 2))


def test_erlang_c_single_server_is_load() -> None:
    """For one server the probability of waiting equals the load ρ."""
    assert math.isclose(erlang_c(0.7, 1.0, 1), 0.7)


def test_erlang_c_rejects_unstable_queue() -> None:
    """An overloaded station has no steady state."""
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(3.0, 1.0, 3)


def _ci(values: np.ndarray, level: float = 0.99) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


@pytest.mark.parametrize(("lam", "service_min", "servers"), [(48.0, 1.0, 1), (150.0, 1.0, 3), (420.0, 1.0, 8)])
def test_poisson_mode_matches_erlang_c(lam: float, service_min: float, servers: int) -> None:
    """Mean wait and probability of waiting fall within the 99 % CI of 12 replications."""
    means, shares, _ = mmc_replications(lam, service_min, servers, hours=150.0, replications=12, seed=11)
    lam_min, mu_min = lam / 60, 1 / service_min
    lo, hi = _ci(means)
    assert lo <= mmc_mean_wait(lam_min, mu_min, servers) <= hi
    lo, hi = _ci(shares)
    assert lo <= erlang_c(lam_min, mu_min, servers) <= hi
