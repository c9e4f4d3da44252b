"""Conservation: every household is accounted for once, tables never double-book, tubes respect pools."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine import run_replication
from sim.params import SimParams
from sim.records import HOME, MISSED, RETURNED, SAMPLED, UNPLACED, WALK_IN
from sim.samples import sample_flow
from tests.sim.builders import inputs

household = st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(1, 6), st.integers(0, 2))


@st.composite
def days(draw: st.DrawFn) -> tuple:
    """A small random plan: households (site, slot, size, zone), home visits, unplaced, and noise."""
    rows = draw(st.lists(household, min_size=1, max_size=60))
    hh = [(f"h{i}", s, slot * 30.0, slot * 30.0 + 30, size) for i, (s, slot, size, _) in enumerate(rows)]
    zones = [z for *_, z in rows]
    home = [(f"v{i}", draw(st.integers(0, 1)), draw(st.integers(0, 40)) * 30.0, draw(st.integers(0, 3)), 2)
            for i in range(draw(st.integers(0, 5)))]
    unplaced = [(f"u{i}", 3) for i in range(draw(st.integers(0, 2)))]
    tables = tuple(draw(st.lists(st.integers(1, 3), min_size=3, max_size=3)))
    pooling = (draw(st.integers(1, 10)), draw(st.integers(0, 5)), draw(st.integers(0, 1)))
    params = SimParams(no_show=draw(st.floats(0, 0.5)), no_show_return=draw(st.floats(0, 1)),
                       walk_in_share=draw(st.floats(0, 0.3)), handover_min=draw(st.sampled_from([0.0, 15.0])),
                       shift_hours=draw(st.sampled_from([0.5, 2.0])), box_tubes=draw(st.integers(1, 5)),
                       lab_tubes_per_hour=draw(st.sampled_from([0.0, 20.0])))
    day = inputs(hh, tables=tables, home=home, unplaced=unplaced, zones=zones, pooling=pooling)
    return day, params, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(days())
def test_every_household_sampled_or_missed_once(case: tuple) -> None:
    """Planned households appear exactly once; whoever arrived was sampled; missed ones never started."""
    day, params, seed = case
    rec = run_replication(day, params, seed)
    planned = Counter(rec.ids[rec.status != WALK_IN].tolist())
    expected = Counter([*day.ids.tolist(), *day.home_ids.tolist(), *day.unplaced_ids.tolist()])
    assert planned == expected
    came = np.isin(rec.status, [SAMPLED, RETURNED, WALK_IN, HOME])
    assert np.isfinite(rec.end[came]).all() and (rec.end[came] >= rec.start[came]).all()
    assert (rec.start[came] >= rec.arrival[came]).all()
    gone = np.isin(rec.status, [MISSED, UNPLACED])
    assert np.isnan(rec.start[gone]).all() and (rec.tube[gone] == -1).all()
    assert (rec.result[came] >= rec.lab_arrival[came]).all()
    assert (rec.lab_arrival[came] >= rec.end[came]).all()


@settings(max_examples=60, deadline=None)
@given(days())
def test_tables_serve_one_household_at_a_time(case: tuple) -> None:
    """At each table, service intervals never overlap."""
    day, params, seed = case
    rec = run_replication(day, params, seed)
    at = rec.table >= 0
    for key in set(zip(rec.site[at].tolist(), rec.table[at].tolist(), strict=True)):
        rows = at & (rec.site == key[0]) & (rec.table == key[1])
        order = np.argsort(rec.start[rows])
        starts, ends = rec.start[rows][order], rec.end[rows][order]
        assert (starts[1:] >= ends[:-1] - 1e-9).all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 8), st.floats(0, 600)),
                min_size=1, max_size=80),
       st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(0, 10)), st.integers(1, 6))
def test_tubes_hold_at_most_their_pool(rows: list, pooling: tuple[int, int, int], box_tubes: int) -> None:
    """Pooled tubes hold at most their ratio, every swab is in one tube, boxes hold at most box_tubes."""
    station = np.array([r[0] for r in rows], dtype=np.int64)
    zone = np.array([r[1] for r in rows], dtype=np.int64)
    size = np.array([r[2] for r in rows], dtype=np.int64)
    end = np.array([r[3] for r in rows])
    params = SimParams(box_tubes=box_tubes)
    flow = sample_flow(station, zone, size, end, pooling, params, np.random.default_rng(0))
    ratio = np.asarray(pooling)[flow.tube_zone]
    pooled = ratio > 0
    assert (flow.tube_people[pooled] <= ratio[pooled]).all()
    assert (flow.tube_people >= 1).all()
    assert flow.tube_people.sum() == size.sum()
    assert (np.bincount(flow.tube_box) <= box_tubes).all()
    assert (flow.boxes.depart >= flow.boxes.oldest).all()
    assert (flow.lab_arrival >= end).all()
