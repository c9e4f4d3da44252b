"""Write small registry files + scenario for tests, in English or Chinese headers and any encoding."""

from __future__ import annotations

import csv
import io
from pathlib import Path

HOUSEHOLDS = [
    ["household_id", "building_id", "unit", "room", "size", "elderly", "children", "contact", "phone", "needs", "preferred"],
    ["H1", "B1", "1", "101", "3", "1", "0", "张伟", "13800138001", "", ""],
    ["H2", "B1", "1", "102", "2", "0", "1", "王芳", "139 0013 8002", "pregnant", "morning"],
    ["H3", "B2", "2", "201", "1", "1", "0", "李娜", "", "独居老人", ""],
    ["H4", "B3", "1", "301", "4", "2", "1", "刘洋", "+8615000138004", "卧床", "下午"],
]
BUILDINGS = [
    ["building_id", "name", "grid", "compound", "lon", "lat", "risk_zone"],
    ["B1", "1号楼", "网格一", "幸福小区", "118.3200", "27.0300", "防范区"],
    ["B2", "2号楼", "网格一", "幸福小区", "118.3210", "27.0305", "precaution"],
    ["B3", "3号楼", "网格二", "东风村", "118.3230", "27.0310", "管控区"],
]
SITES = [
    ["site_id", "name", "lon", "lat", "tables", "rate", "open", "close", "serves", "queue_m"],
    ["S1", "二中操场", "118.3205", "27.0302", "2", "", "06:00", "24:00", "", "120"],
    ["S2", "东风村村部", "118.3231", "27.0311", "1", "60", "07:00", "22:00", "东风村", ""],
]
ZH = {
    "household_id": "户编号", "building_id": "楼栋", "unit": "单元", "room": "房号", "size": "人数",
    "elderly": "60岁以上人数", "children": "儿童数", "contact": "户主", "phone": "联系电话", "needs": "特殊人群",
    "preferred": "意向时段", "name": "楼栋名称", "grid": "网格", "compound": "小区", "lon": "经度", "lat": "纬度",
    "risk_zone": "风险区", "site_id": "采样点编号", "tables": "采样台数", "rate": "每台每小时人数", "open": "开放时间",
    "close": "关闭时间", "serves": "服务小区", "queue_m": "排队长度米",
}
SCENARIO = """area: 测试街道
registry: {households: households.%(ext)s, buildings: buildings.%(ext)s, sites: sites.%(ext)s}
window: {start: "2022-11-23 06:00", hours: 24, slot_minutes: 30}
home_visits: {teams: 2}
"""


def rows_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_city(
    directory: Path, *, households: list[list[str]] | None = None, buildings: list[list[str]] | None = None,
    sites: list[list[str]] | None = None, encoding: str = "utf-8", chinese: bool = False, xlsx: bool = False,
) -> Path:
    """Write the three files and scenario.yaml; returns the scenario path."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = {"households": households or HOUSEHOLDS, "buildings": buildings or BUILDINGS, "sites": sites or SITES}
    for name, rows in tables.items():
        rows = [list(r) for r in rows]
        if chinese:
            site_name = {"name": "采样点名称"} if name == "sites" else {}
            rows[0] = [site_name.get(h, ZH.get(h, h)) for h in rows[0]]
        if xlsx:
            from openpyxl import Workbook

            wb = Workbook()
            ws = wb.active
            for r in rows:
                ws.append(r)
            wb.save(directory / f"{name}.xlsx")
        else:
            (directory / f"{name}.csv").write_bytes(rows_text(rows).encode(encoding))
    path = directory / "scenario.yaml"
    path.write_text(SCENARIO % {"ext": "xlsx" if xlsx else "csv"}, encoding="utf-8")
    return path
