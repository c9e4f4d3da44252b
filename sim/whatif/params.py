"""The ``whatif`` section of a scenario: the target a level must meet and the search's limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sampler.params import Scenario, with_overrides
from sim.whatif.axes import AXES

__all__ = ["WhatifParams", "whatif_params"]


@dataclass(frozen=True)
class WhatifParams:
    """The ``whatif`` section of the scenario file (command-line options override it).

    Attributes
    ----------
    target_prob
        Probability (share of replications) of meeting the window that a level must reach.
    max_p95_wait_min
        Largest acceptable p95 wait in minutes (mean over replications).
    max_share_over_limit
        Largest acceptable share of people waiting longer than ``sim.wait_limit_min``
        (1 = not checked).
    replications
        Replications per level.
    ranges
        Default ranges by axis, e.g. ``{tables: "0.5:1.5:0.1", home_teams: "4,6,8"}``.
    minus_one_sites
        How many of the busiest sites get a minus-one check (0 = none).
    max_rounds
        Most rounds of the greedy growth at bottleneck sites.
    trim_rounds
        Most tables the trim removes at the bottleneck, one simulated level each.
    """

    target_prob: float = 0.95
    max_p95_wait_min: float = 30.0
    max_share_over_limit: float = 1.0
    replications: int = 10
    ranges: dict[str, str] = field(default_factory=dict)
    minus_one_sites: int = 10
    max_rounds: int = 5
    trim_rounds: int = 3

    def check(self) -> list[tuple[str, str, str]]:
        p: list[tuple[str, str, str]] = []
        if not 0 < self.target_prob <= 1:
            p.append(("target_prob", str(self.target_prob), "use a probability in (0, 1]"))
        if self.max_p95_wait_min <= 0:
            p.append(("max_p95_wait_min", str(self.max_p95_wait_min), "use a positive number of minutes"))
        if not 0 <= self.max_share_over_limit <= 1:
            p.append(("max_share_over_limit", str(self.max_share_over_limit), "use a share between 0 and 1"))
        if self.replications < 1:
            p.append(("replications", str(self.replications), "run at least one replication per level"))
        if self.minus_one_sites < 0:
            p.append(("minus_one_sites", str(self.minus_one_sites), "use 0 (none) or more sites"))
        if self.max_rounds < 1:
            p.append(("max_rounds", str(self.max_rounds), "allow at least one round"))
        if self.trim_rounds < 0:
            p.append(("trim_rounds", str(self.trim_rounds), "use 0 (no trim) or more rounds"))
        for name in self.ranges:
            if name not in AXES:
                p.append((f"ranges.{name}", str(self.ranges[name]), f"use one of {', '.join(AXES)}"))
        return p


def whatif_params(scenario: Scenario, overrides: dict[str, Any] | None = None) -> WhatifParams:
    """WhatifParams of the scenario's ``whatif`` section plus overrides (not None); InputError if invalid."""
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    return with_overrides(scenario.section("whatif", WhatifParams), changes, scenario.source, "whatif")
