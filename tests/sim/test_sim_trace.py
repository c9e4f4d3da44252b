"""Exact event traces of tiny sampling days, in the style of SimPy's own tests."""

from __future__ import annotations

from dataclasses import replace

from sim.engine import run_replication
from sim.params import SimParams
from tests.sim.builders import inputs

# Constant service: 30 s registration + 60 s per swab, so a household of 2 takes 2.5 min.
FIXED = SimParams(arrival="uniform", no_show=0.0, walk_in_share=0.0, registration_s=(30.0, 30.0, 30.0),
                  swab_s=(60.0, 60.0, 60.0), relief_teams=1)


def test_two_households_one_table_queue_in_order() -> None:
    """The second household waits for the first at the only table."""
    day = inputs([("a", 0, 0.0, 0.0, 2), ("b", 0, 1.0, 1.0, 1)], hours=(0.0, 60.0))
    trace = run_replication(day, FIXED, seed=1, trace=True).trace
    assert trace == [
        (0.0, "arrive a"),
        (0.0, "start a at S1 table 1"),
        (1.0, "arrive b"),
        (2.5, "end a"),
        (2.5, "start b at S1 table 1"),
        (4.0, "end b"),
    ]


def test_two_households_two_tables_no_wait() -> None:
    """With two tables the second household starts on arrival at the other table."""
    day = inputs([("a", 0, 0.0, 0.0, 2), ("b", 0, 1.0, 1.0, 1)], tables=(2,), hours=(0.0, 60.0))
    trace = run_replication(day, FIXED, seed=1, trace=True).trace
    assert trace == [
        (0.0, "arrive a"),
        (0.0, "start a at S1 table 1"),
        (1.0, "arrive b"),
        (1.0, "start b at S1 table 2"),
        (2.5, "end a"),
        (2.5, "end b"),
    ]


def test_handover_gap_closes_the_table() -> None:
    """A household arriving during the PPE hand-over waits until the next shift starts."""
    params = replace(FIXED, relief_teams=0, shift_hours=0.5, handover_min=15.0)
    day = inputs([("a", 0, 31.0, 31.0, 2)], hours=(0.0, 60.0))
    trace = run_replication(day, params, seed=1, trace=True).trace
    assert trace == [
        (30.0, "handover S1 table 1"),
        (31.0, "arrive a"),
        (45.0, "start a at S1 table 1"),
        (47.5, "end a"),
    ]


def test_relief_team_covers_the_handover() -> None:
    """With a relief team the same household is served on arrival and no hand-over is logged."""
    params = replace(FIXED, shift_hours=0.5, handover_min=15.0)
    day = inputs([("a", 0, 31.0, 31.0, 2)], hours=(0.0, 60.0))
    trace = run_replication(day, params, seed=1, trace=True).trace
    assert trace == [(31.0, "arrive a"), (31.0, "start a at S1 table 1"), (33.5, "end a")]


def test_home_visit_waits_for_slot_and_travels() -> None:
    """A team starts at the first slot, travels between buildings and waits for a later slot."""
    params = replace(FIXED, home_travel_min=4.0)
    day = inputs([], tables=(1,), home=[("h1", 0, 60.0, 5, 1), ("h2", 0, 60.0, 5, 1), ("h3", 0, 120.0, 6, 1)])
    records = run_replication(day, params, seed=3, trace=True)
    trace = records.trace
    assert trace is not None
    visits = [(t, e) for t, e in trace if e.startswith(("visit", "end"))]
    assert [e for _, e in visits] == ["visit h1 by team 1", "end h1", "visit h2 by team 1", "end h2",
                                      "visit h3 by team 1", "end h3"]
    assert visits[0][0] == 60.0
    assert visits[2][0] == visits[1][0] + 0.5  # same building: a short walk
    assert visits[4][0] == max(120.0, visits[3][0] + 4.0)  # other building: travel, then its slot


def test_home_team_breaks_for_ppe_handover() -> None:
    """A team working past its shift finishes the visit in hand, then breaks before the next."""
    params = replace(FIXED, relief_teams=0, shift_hours=0.5, handover_min=15.0, home_travel_min=4.0)
    home = [(f"h{i}", 0, 0.0, 1, 1) for i in range(12)]
    rec = run_replication(inputs([], tables=(1,), home=home), params, seed=5, trace=True)
    trace = rec.trace
    assert trace is not None
    breaks = [t for t, e in trace if e == "handover team 1"]
    assert breaks, "twelve visits take longer than one 30-minute shift"
    first = breaks[0]
    assert first >= 30.0
    after = min(t for t, e in trace if e.startswith("visit") and t > first)
    assert after == first + 15.0
