"""Simulation parameters: the `sim` section of the scenario file, with defaults from the brief.

An empty ``sim: {}`` section gives every default below. Times are minutes unless a name says
otherwise; ``(low, mode, high)`` triples are triangular distributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sampler.params import Scenario, SectionSpec, register_sections, with_overrides

__all__ = ["ARRIVAL_MODES", "MODES", "SIM_SECTIONS", "SimParams", "register_sim_sections", "sim_params"]

ARRIVAL_MODES = ("uniform", "lateness")
MODES = ("plan", "poisson")


def _triangle_ok(t: tuple[float, float, float]) -> bool:
    return 0 <= t[0] <= t[1] <= t[2] and t[2] > 0


@dataclass(frozen=True)
class SimParams:
    """Everything the sampling-day model draws from.

    Attributes
    ----------
    mode
        ``plan`` replays the plan; ``poisson`` (validation) ignores it and sends one-person
        households to every site at ``poisson_rate_per_hour`` with exponential service.
    arrival
        ``uniform``: uniform within the slot; ``lateness``: uniform within the slot plus a normal
        lateness (people come early or late).
    lateness_mean_min, lateness_sd_min
        Mean and standard deviation of that lateness (minutes; negative = early).
    no_show
        Probability a planned household does not come in its slot.
    no_show_return
        Probability a no-show comes back later as a walk-in (otherwise it stays missed and goes
        to the grid workers' list).
    return_delay_min
        ``(low, high)`` uniform delay after the slot end before a no-show comes back.
    followup_reach
        Share of the no-shows who did not come back that grid workers reach by phone or at the
        door (查漏补缺); 0 models no follow-up.
    followup_delay_min
        ``(low, high)`` uniform time after the slot end at which a grid worker reaches them (the
        missed list is drawn up after a grace time, then called).
    followup_closed
        Share of those reached who turn out to be away from the area or refuse: their case is
        closed without a swab.
    followup_home
        Share of those reached who cannot come and are swabbed at home; the others come to their
        site as walk-ins right after the call.
    followup_home_min
        Minutes from the call to a follow-up home swab (a team on the way; not drawn from the
        planned home-visit teams' hours).
    walk_in_share
        Walk-ins without appointment (visitors, unregistered residents) per planned household of
        a site, arriving uniformly over the site's opening hours within the window.
    registration_s
        Registration of one household (scan codes, print labels): triangular, seconds.
    swab_s
        One throat swab: triangular, seconds (brief: 12 s fast, up to ≈ 45 s).
    elderly_factor, child_factor
        Swab-time multipliers for members aged 60+ and children under 6.
    queue_spacing_m
        Metres of queue per waiting person (1 m rule; some cities 2 m).
    shift_hours
        Length of one PPE shift at a table (brief: rotate every 2–3 h; allowed 2–4 h).
    handover_min
        Hand-over gap between PPE shifts during which the table is closed (staggered across
        the tables of a site).
    relief_teams
        Relief teams per site; with one or more, hand-overs are covered and tables never close.
    registrars_per_table
        Registrars (登记员) per table who pre-register queued households: a site of ``c`` tables
        has ``r = round(c × registrars_per_table)`` of them, and each household is pre-registered
        with probability ``min(r / c, 1)``, so it occupies the table only for its swabs. 0 (the
        default): the table team registers every household itself. ``sampler simulate --roster``
        takes them from the roster instead.
    box_interval_min
        Scheduled box collection interval at every site and home-visit team.
    box_tubes
        Tubes per box; a full box leaves at once without waiting for the collection.
    transport_min
        Courier trip site → lab, triangular minutes.
    transport_limit_h
        Samples must reach the lab within this many hours of the first swab in the box.
    lab_tubes_per_hour
        Lab capacity (all labs together), tubes per hour; 0 = unlimited.
    lab_result_min
        From the start of a tube's processing to its result (extraction + PCR + report).
    home_travel_min
        Travel of a home-visit team between buildings (same building: 0.5 min). The time at the
        door is gamma (shape 4) with mean ``60 / home_visits.visits_per_team_hour`` minus this,
        so a team keeps the planned visit rate on average.
    poisson_rate_per_hour, poisson_service_min, poisson_hours
        Poisson mode: arrival rate per site, mean exponential service, and horizon.
    slot_tick_min
        How often a site process wakes to dispatch newly arrived households (SimPy step).
    wait_limit_min
        The access standard: queue ≤ 30 min (share of people waiting longer is reported).
    busy_wait_min, jam_wait_min
        Shenzhen status thresholds: 畅通 below busy, 忙碌 from busy, 拥堵 from jam.
    replications
        Default number of replications when the command line gives none.
    """

    mode: str = "plan"
    arrival: str = "lateness"
    lateness_mean_min: float = 3.0
    lateness_sd_min: float = 8.0
    no_show: float = 0.03
    no_show_return: float = 0.5
    return_delay_min: tuple[float, float] = (60.0, 360.0)
    followup_reach: float = 0.9
    followup_delay_min: tuple[float, float] = (60.0, 240.0)
    followup_closed: float = 0.1
    followup_home: float = 0.2
    followup_home_min: float = 60.0
    walk_in_share: float = 0.02
    registration_s: tuple[float, float, float] = (10.0, 20.0, 60.0)
    swab_s: tuple[float, float, float] = (12.0, 25.0, 45.0)
    elderly_factor: float = 1.5
    child_factor: float = 2.0
    queue_spacing_m: float = 1.0
    shift_hours: float = 3.0
    handover_min: float = 15.0
    relief_teams: int = 0
    registrars_per_table: float = 0.0
    box_interval_min: float = 60.0
    box_tubes: int = 50
    transport_min: tuple[float, float, float] = (20.0, 40.0, 90.0)
    transport_limit_h: float = 4.0
    lab_tubes_per_hour: float = 3000.0
    lab_result_min: float = 150.0
    home_travel_min: float = 4.0
    poisson_rate_per_hour: float = 60.0
    poisson_service_min: float = 1.0
    poisson_hours: float = 24.0
    slot_tick_min: float = 10.0
    wait_limit_min: float = 30.0
    busy_wait_min: float = 25.0
    jam_wait_min: float = 50.0
    replications: int = 20

    def check(self) -> list[tuple[str, str, str]]:
        """Problems as (field, value, fix); empty when valid."""
        p: list[tuple[str, str, str]] = []
        if self.mode not in MODES:
            p.append(("mode", self.mode, f"use one of {', '.join(MODES)}"))
        if self.arrival not in ARRIVAL_MODES:
            p.append(("arrival", self.arrival, f"use one of {', '.join(ARRIVAL_MODES)}"))
        for name in ("no_show", "no_show_return", "followup_reach", "followup_closed", "followup_home"):
            if not 0 <= getattr(self, name) <= 1:
                p.append((name, str(getattr(self, name)), "use a probability between 0 and 1"))
        for name in ("return_delay_min", "followup_delay_min"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                p.append((name, str(getattr(self, name)), "give [low, high] with 0 ≤ low ≤ high"))
        if self.followup_closed + self.followup_home > 1:
            p.append(("followup_home", str(self.followup_home), "followup_closed + followup_home must not exceed 1"))
        for name in ("registration_s", "swab_s", "transport_min"):
            if not _triangle_ok(getattr(self, name)):
                p.append((name, str(getattr(self, name)), "give [low, mode, high] with 0 ≤ low ≤ mode ≤ high, high > 0"))
        if not 0.5 <= self.shift_hours <= 12:
            p.append(("shift_hours", str(self.shift_hours), "use a shift of 0.5 to 12 hours (brief: 2–4 h)"))
        positive = ("box_interval_min", "box_tubes", "transport_limit_h", "poisson_rate_per_hour",
                    "poisson_service_min", "poisson_hours", "slot_tick_min", "queue_spacing_m",
                    "elderly_factor", "child_factor", "replications")
        for name in positive:
            if getattr(self, name) <= 0:
                p.append((name, str(getattr(self, name)), "use a positive value"))
        non_negative = ("lateness_sd_min", "walk_in_share", "handover_min", "relief_teams", "registrars_per_table",
                        "lab_tubes_per_hour", "lab_result_min", "followup_home_min",
                        "home_travel_min", "wait_limit_min")
        for name in non_negative:
            if getattr(self, name) < 0:
                p.append((name, str(getattr(self, name)), "use zero or a positive value"))
        if not 0 < self.busy_wait_min <= self.jam_wait_min:
            p.append(("busy_wait_min", str(self.busy_wait_min), "use 0 < busy_wait_min ≤ jam_wait_min"))
        return p


def sim_params(scenario: Scenario, overrides: dict[str, Any] | None = None) -> SimParams:
    """SimParams of the scenario's ``sim`` section (checked when it was read), plus overrides; InputError if invalid."""
    return with_overrides(scenario.section("sim", SimParams), overrides or {}, scenario.source, "sim")


def _whatif_params() -> type:
    from sim.whatif.params import WhatifParams

    return WhatifParams


SIM_SECTIONS = (
    SectionSpec("sim", lambda: SimParams, "sim.params"),
    SectionSpec("whatif", _whatif_params, "sim.whatif.params"),
)


def register_sim_sections() -> None:
    """Register the simulator's scenario sections (``sim``, ``whatif``) with `sampler.params`.

    Called by the composition roots (`api.sections.register_all`); idempotent.
    """
    register_sections(SIM_SECTIONS)
