"""Storing plans: bulk writes, exact round trip, one transaction, deletion (SQLite and PostgreSQL)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from api.models import PLAN_TABLES, Plan
from api.storage import delete_plan, read_plan_files, store_plan
from tests.api.plandir import plan_frames, plan_summary


def test_round_trip_keeps_every_table(engine: Engine) -> None:
    """What is stored reads back with the same rows and values as the plan directory."""
    frames = plan_frames()
    pid = store_plan(engine, plan_summary(), frames)
    files = read_plan_files(engine, pid)
    assert files.summary == plan_summary()
    got = files.assignments
    assert got["household_id"].tolist() == frames["assignments"]["household_id"].tolist()
    assert got["size"].tolist() == frames["assignments"]["size"].tolist()
    assert got.loc[got["mode"] == "home", "team"].tolist() == [1]
    assert got.loc[got["mode"] == "site", "team"].isna().all()
    assert files.contacts["phone"].tolist() == frames["contacts"]["phone"].tolist()
    assert files.sites["name"].tolist() == ["二中操场采样点", "社区服务中心"]
    assert len(files.site_load) == len(frames["site_load"])


def test_store_is_one_transaction(engine: Engine) -> None:
    """A failure after some tables are written leaves no plan and no rows behind."""
    def explode(_conn: object, _plan_id: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store_plan(engine, plan_summary(), plan_frames(), before_commit=explode)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Plan)).scalar_one() == 0
        for table in PLAN_TABLES.values():
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0


def test_missing_column_is_refused_before_writing(engine: Engine) -> None:
    """A frame without a plan-file column raises InputError and stores nothing."""
    from sampler.errors import InputError

    frames = plan_frames()
    frames["assignments"] = frames["assignments"].drop(columns=["slot_end"])
    with pytest.raises(InputError, match="slot_end"):
        store_plan(engine, plan_summary(), frames)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Plan)).scalar_one() == 0


def test_delete_removes_only_that_plan(engine: Engine) -> None:
    """Deleting one plan leaves another plan's rows intact."""
    first = store_plan(engine, plan_summary(), plan_frames())
    second = store_plan(engine, plan_summary(), plan_frames())
    with engine.begin() as conn:
        delete_plan(conn, first)
    t = PLAN_TABLES["assignments"]
    with engine.connect() as conn:
        ids = conn.execute(select(t.c.plan_id).distinct()).scalars().all()
    assert ids == [second]


def test_building_subset_reads_only_those_buildings(engine: Engine) -> None:
    """Reading a plan for some buildings returns only their households and no contacts."""
    pid = store_plan(engine, plan_summary(), plan_frames())
    files = read_plan_files(engine, pid, ["B2"])
    assert set(files.assignments["building_id"]) == {"B2"}
    assert files.contacts.empty
    assert isinstance(files.sites, pd.DataFrame) and len(files.sites) == 2


def test_awkward_text_round_trips(engine: Engine) -> None:
    """Commas, quotes, line breaks, backslashes and a literal \\N survive storage unchanged."""
    frames = plan_frames()
    awkward = ['a,b "c"', "line\nbreak", "\\N", "back\\slash", "", "  spaced  "]
    frames["sites"] = pd.concat([frames["sites"]] * 3, ignore_index=True).iloc[:len(awkward)]
    frames["sites"]["name"] = awkward
    pid = store_plan(engine, plan_summary(), frames)
    assert read_plan_files(engine, pid).sites["name"].tolist() == awkward
