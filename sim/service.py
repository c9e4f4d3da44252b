"""How long a household takes at a table: one registration, one swab per member.

A registrar (登记员) may pre-register a household while it queues; it then occupies the table only
for its swabs.
"""

from __future__ import annotations

import numpy as np

from sampler.model import FloatArray, IntArray
from sim.params import SimParams

__all__ = ["exponential_service", "household_service", "preregistration_probability"]



def _triangular(rng: np.random.Generator, spec: tuple[float, float, float], n: int) -> FloatArray:
    lo, mode, hi = spec
    if hi <= lo:
        return np.full(n, float(lo))
    return rng.triangular(lo, mode, hi, n)


def preregistration_probability(registrars: IntArray, tables: IntArray) -> FloatArray | None:
    """Per site, the chance a registrar pre-registers a household: min(r / c, 1); None if no registrars."""
    registrars = np.asarray(registrars, dtype=np.int64)
    if not (registrars > 0).any():
        return None
    return np.asarray(np.minimum(registrars / np.maximum(np.asarray(tables, dtype=np.float64), 1.0), 1.0))


def household_service(size: IntArray, elderly: IntArray, children: IntArray, params: SimParams,
                      rng: np.random.Generator, preregistered: FloatArray | None = None) -> FloatArray:
    """Service minutes per household: registration plus each member's swab.

    Members are counted elderly first, then children, then other adults; elderly swabs take
    ``elderly_factor`` and children's ``child_factor`` times as long. ``preregistered`` is each
    household's probability of having been registered by a registrar while queueing (its
    registration then takes no table time); the extra uniform draws come after every other
    draw and only when it is given, so runs without registrars draw exactly as before.
    """
    n = len(size)
    if n == 0:
        return np.zeros(0)
    size = np.maximum(size, 1)
    people = int(size.sum())
    registration = _triangular(rng, params.registration_s, n)
    swab = _triangular(rng, params.swab_s, people)
    starts = np.cumsum(size) - size
    rank = np.arange(people) - np.repeat(starts, size)
    old = np.repeat(np.minimum(elderly, size), size)
    young = np.repeat(np.minimum(elderly + children, size), size)
    factor = np.where(rank < old, params.elderly_factor, np.where(rank < young, params.child_factor, 1.0))
    if preregistered is not None:
        registration = np.where(rng.random(n) < preregistered, 0.0, registration)
    seconds = registration + np.add.reduceat(swab * factor, starts)
    return np.asarray(seconds / 60.0)


def exponential_service(n: int, mean_min: float, rng: np.random.Generator) -> FloatArray:
    """Poisson mode: exponential service minutes."""
    return rng.exponential(mean_min, n)
