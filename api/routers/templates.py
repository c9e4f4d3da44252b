"""Excel templates of the registry files (`sampler template`), for planners to download and fill in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response

__all__ = ["router"]

router = APIRouter(prefix="/templates", tags=["templates"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Name = Literal["persons", "households", "compounds", "sites"]


@router.get("/{name}.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "the template workbook"}})
def get_template(name: Annotated[Name, Path(description="which registry file")]) -> Response:
    """The Excel template of a registry file (no key needed: it holds no one's data): Chinese headers, one example row (示例, delete it),
    drop-downs for the risk zone and special needs, identity numbers and phones as text."""
    from sampler.registry.templates import template_bytes

    return Response(template_bytes(f"{name}.xlsx"), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
