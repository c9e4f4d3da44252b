"""Queueing theory used to validate the simulator: the M/M/c queue (Erlang C)."""

from __future__ import annotations

__all__ = ["erlang_c", "mmc_mean_wait"]


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C).

    Parameters
    ----------
    arrival_rate
        λ, arrivals per unit time.
    service_rate
        μ, services per unit time per server.
    servers
        c, the number of servers; requires λ < cμ.
    """
    a = arrival_rate / service_rate
    rho = a / servers
    if not 0 <= rho < 1:
        raise ValueError(f"unstable queue: load {rho:.3f} per server")
    # Erlang B by the stable recursion, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    return b / (1 - rho + rho * b)


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in queue (before service) of an M/M/c queue, in the rates' time unit."""
    return erlang_c(arrival_rate, service_rate, servers) / (servers * service_rate - arrival_rate)
