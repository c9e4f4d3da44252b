"""Erase a campaign's personal data: `POST /scenarios/{id}/purge` (planner role, audited)."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel

from api.deps import EngineDep, PlannerDep, audit

__all__ = ["PurgePublic", "router"]

router = APIRouter(prefix="/scenarios", tags=["scenarios"])


class PurgePublic(BaseModel):
    """What a purge erased; the statistics (summaries, loads, simulations) stay."""

    scenario_id: int
    plans: list[int]
    contacts_deleted: int
    files_deleted: int
    already_purged: bool


@router.post("/{scenario_id}/purge", response_model=PurgePublic)
def purge_campaign(request: Request, engine: EngineDep, caller: PlannerDep,
                   scenario_id: int = Path(ge=1, le=2**31 - 1)) -> PurgePublic:
    """Erase the scenario's and its plans' personal data (names, phones, rooms, health reasons).

    The households registry and every plan's contacts are deleted, units, rooms and home-visit
    reasons blanked, the plans withdrawn from the lookup; counts, summaries, site load, building
    slots and simulations are kept. No plan or simulation can be started from it afterwards. The
    answer comes once every worker process has dropped the plans from its lookup memory (2 s).
    """
    from api.purge import purge_scenario

    result = purge_scenario(engine, scenario_id)
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such scenario")
    request.app.state.published.invalidate()
    if not result.already:
        # Other worker processes drop what they hold of these plans at their next refresh (within
        # the TTL, api.lookupindex): answer when none can answer from it any more.
        time.sleep(request.app.state.published.ttl + 0.1)
    audit(engine, caller, "scenario.purge", scenario_id=scenario_id, records=result.records,
          detail=f"plans {','.join(map(str, result.plans))}"[:200])
    return PurgePublic(scenario_id=scenario_id, plans=result.plans, contacts_deleted=result.contacts,
                       files_deleted=result.files, already_purged=result.already)
