"""Resume the sampling day at minute ``at``: the same model, with what is already done taken out.

`Resume` is what the engine needs to simulate only the rest of a day that is under way
(`sim.forecast` builds it from the check-ins):

- every replication draws the whole day exactly as `run_replication` always does (arrivals,
  no-shows, returns, follow-ups, service and door times), so a forecast and the plan's own
  simulation share their random numbers (common random numbers), and a `Resume` at minute 0 with
  nothing sampled gives byte for byte the plan's simulation;
- households checked in are taken out (partly sampled ones keep their remaining members, and
  their service time shrinks in proportion);
- whoever the draw brought to a site before ``at`` and was not checked in is in the queue at
  ``at`` (arrival ``at``, in their drawn order): the queue that should already have arrived;
- walk-ins drawn before ``at`` are gone (they are not in the registry, so no check-in shows them:
  they are taken as served), later ones come as drawn;
- households a grid worker found away, refusing or sampled elsewhere (``absent``, ``home_absent``)
  are taken out as if sampled, but count as not sampled: nobody expects them any more;
- each site's service times are multiplied by ``service_scale`` (planned rate ÷ the rate its own
  check-ins show), so a site working at half its planned speed serves at half speed;
- the SimPy clock starts at ``at``: tables and home-visit teams start then, hand-overs follow the
  same calendar as in the plan's simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sampler.model import FloatArray, IntArray
from sim.arrivals import Visits
from sim.inputs import SimInputs

__all__ = ["Resume"]


@dataclass(frozen=True, eq=False)
class Resume:
    """The state of the day at minute ``at`` (minutes from the window start).

    Attributes
    ----------
    at
        Minute the rest of the day starts.
    sampled
        People already sampled per site household (aligned with ``SimInputs.ids``).
    home_sampled
        People already sampled per home-visit household (aligned with ``SimInputs.home_ids``).
    service_scale
        Per site, the factor applied to its service times (1 = the planned speed).
    absent, home_absent
        Site and home-visit households that will not come (follow-ups: away, refused, sampled
        elsewhere); empty: none.
    """

    at: float
    sampled: IntArray
    home_sampled: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    service_scale: FloatArray = field(default_factory=lambda: np.zeros(0))
    absent: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    home_absent: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def check(self, inputs: SimInputs) -> None:
        """ValueError when the arrays do not fit ``inputs``."""
        if len(self.sampled) != len(inputs.ids):
            raise ValueError(f"sampled must hold {len(inputs.ids)} counts, one per site household")
        if len(self.home_sampled) not in (0, len(inputs.home_ids)):
            raise ValueError(f"home_sampled must hold {len(inputs.home_ids)} counts, one per home visit")
        if len(self.service_scale) not in (0, inputs.n_sites) or (np.asarray(self.service_scale) <= 0).any():
            raise ValueError(f"service_scale must hold {inputs.n_sites} factors > 0, one per site")
        if len(self.absent) not in (0, len(inputs.ids)) or len(self.home_absent) not in (0, len(inputs.home_ids)):
            raise ValueError("absent and home_absent must hold one flag per site / home-visit household")

    def left(self, inputs: SimInputs) -> IntArray:
        """People still to sample per site household (0 for the absent)."""
        left = np.asarray(np.maximum(inputs.size - self.sampled, 0), dtype=np.int64)
        return np.where(self.absent, 0, left) if len(self.absent) else left

    def home_left(self, inputs: SimInputs) -> IntArray:
        """People still to sample per home-visit household."""
        if len(self.home_sampled) == 0:
            left = np.asarray(inputs.home_size, dtype=np.int64)
        else:
            left = np.asarray(np.maximum(inputs.home_size - self.home_sampled, 0), dtype=np.int64)
        return np.where(self.home_absent, 0, left) if len(self.home_absent) else left

    def apply(self, inputs: SimInputs, visits: Visits, service: FloatArray) -> tuple[Visits, FloatArray]:
        """The visits and service minutes of the rest of the day (see the module docstring)."""
        left = self.left(inputs)
        row = visits.row
        known = row >= 0
        remaining = np.where(known, left[np.maximum(row, 0)] if len(left) else 0, visits.size)
        keep = (remaining > 0) & (known | (visits.arrival >= self.at))
        share = np.where(known, remaining / np.maximum(visits.size, 1), 1.0)
        scale = np.asarray(self.service_scale, dtype=np.float64)
        per_site = scale[visits.site] if len(scale) else 1.0
        service = np.asarray(service * share * per_site)[keep]
        # max(arrival, at) keeps the (site, arrival) order: the queue at `at` stays in drawn order
        arrival = np.maximum(visits.arrival, self.at)[keep]
        missed = visits.missed[left[visits.missed] > 0]
        fh_keep = left[visits.followup_home] > 0
        closed = visits.closed[left[visits.closed] > 0]
        rest = Visits(visits.ids[keep], visits.kind[keep], visits.site[keep], arrival,
                      remaining[keep].astype(np.int64), visits.elderly[keep], visits.children[keep],
                      visits.zone[keep], missed, visits.followup_home[fh_keep],
                      np.maximum(visits.followup_home_at[fh_keep], self.at), closed, row[keep])
        return rest, service
