"""Small registry files (docs/formats.md) for upload and job-flow tests."""

from __future__ import annotations

__all__ = ["PARAMETERS", "buildings_csv", "households_csv", "sites_csv"]

PARAMETERS = """
area: 幸福街道
window: {start: "2022-11-23 06:00", hours: 12, slot_minutes: 30}
home_visits: {teams: 1}
sms: {sign: 幸福街道}
"""


def households_csv(n: int = 30) -> bytes:
    """n households over three buildings; every 10th has no phone."""
    lines = ["household_id,building_id,unit,room,size,phone"]
    for i in range(n):
        building = f"B{i % 3 + 1}"
        phone = "" if i % 10 == 9 else f"1380000{i:04d}"
        lines.append(f"H{i:03d},{building},1,{100 * (i // 6 + 1) + i % 2 + 1},{i % 4 + 1},{phone}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def buildings_csv() -> bytes:
    """Three buildings near the two sites."""
    return (
        "building_id,name,compound,lon,lat\n"
        "B1,1号楼,幸福小区,118.3200,27.0300\n"
        "B2,2号楼,幸福小区,118.3210,27.0305\n"
        "B3,3号楼,和平里,118.3220,27.0310\n"
    ).encode()


def sites_csv() -> bytes:
    """Two sites with one table each."""
    return (
        "site_id,name,lon,lat,tables\n"
        "S1,二中操场,118.3205,27.0302,1\n"
        "S2,社区服务中心,118.3215,27.0308,1\n"
    ).encode()
