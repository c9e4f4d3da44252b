"""Check every roster rule on a built roster, from its output tables alone (shared by roster tests)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from sampler.model import Site
from sampler.params import Scenario
from sampler.plan.slots import slot_grid
from sampler.roster.params import RosterParams
from sampler.roster.rules import ROLES, Roster, StaffMember, demand


def check_roster(roster: Roster, scenario: Scenario, sites: Sequence[Site], staff: Sequence[StaffMember],
                 params: RosterParams) -> None:
    """Assert every constraint and that the counts add up."""
    limits = params.limits(scenario.window.slot_minutes)
    need, places = demand(scenario, sites, params)
    labels = slot_grid(scenario.window, scenario.capacity, scenario.planner, tuple(sites)).labels()
    slot = {label: t for t, label in enumerate(labels)}
    site_k = {s.id: k for k, s in enumerate(sites)}
    person = {m.id: m for m in staff}
    cover = np.zeros_like(need)
    starts = np.zeros_like(need)
    per_person = defaultdict(list)
    by_table = defaultdict(list)
    for rec in roster.stints.itertuples(index=False):
        m = person[rec.staff_id]
        k, r, a, b = site_k[rec.site_id], ROLES.index(rec.role), slot[rec.start], slot[rec.end]
        assert rec.role == m.role and rec.name == m.name
        assert not m.site_id or m.site_id == rec.site_id, "bound site"
        assert m.earliest <= a < b <= m.latest, "availability"
        assert limits.min_len <= b - a <= limits.max_len, "stint length"
        assert (places[k, r, a:b] > 0).all(), "site open"
        assert 1 <= rec.table <= sites[k].tables
        cover[k, r, a:b] += 1
        starts[k, r, a] += 1
        per_person[rec.staff_id].append((a, b))
        by_table[k, r, rec.table].append((a, b))
    for runs in per_person.values():
        runs.sort()
        assert sum(b - a for a, b in runs) <= limits.total, "total hours"
        for (_, end), (nxt, _) in pairwise(runs):
            assert nxt - end >= limits.rest, "rest gap (and no overlap)"
    if params.registrars_per_table <= 1:
        for runs in by_table.values():
            runs.sort()
            assert all(nxt >= end for (_, end), (nxt, _) in pairwise(runs)), "one crew per table"
    assert (cover <= places).all(), "no more on duty than places"
    missing = np.zeros_like(need)
    for rec in roster.unstaffed.itertuples(index=False):
        assert rec.missing > 0
        missing[site_k[rec.site_id], ROLES.index(rec.role), slot[rec.slot_start]] = rec.missing
    assert (missing == np.maximum(need - cover, 0)).all(), "unstaffed lists exactly the empty positions"
    s = roster.summary()
    assert s["positions"] == need.sum() and s["unstaffed"] == missing.sum()
    assert s["filled"] + s["unstaffed"] == s["positions"] and s["stints"] == len(roster.stints)
    if params.stagger:
        per = [1, params.registrars_per_table]
        for k, site in enumerate(sites):
            for r in range(len(ROLES)):
                limit = math.ceil(site.tables / 2) * per[r]
                for t in range(1, need.shape[2]):
                    if places[k, r, t - 1] > 0:
                        rise = max(0, need[k, r, t] - need[k, r, t - 1])
                        assert starts[k, r, t] <= limit + rise, "staggered hand-overs"
