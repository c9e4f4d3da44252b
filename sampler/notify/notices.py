"""Building notices: a printable Chinese call-down sheet per building, and one workbook.

A notice lists the building's units and floors with their slot and site, for posting at the
entrance (楼栋公告) and sending to the building's WeChat group. Rows come from a plan directory's
assignments; floors are read from room numbers (501 → 5层) and consecutive floors called together
are merged (1-5层). All text is HTML-escaped; output is deterministic.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.io.atomic import atomic_directory
from sampler.io.timefmt import span_zh as _when
from sampler.io.xlsx import Sheet, sheet_title, write_xlsx
from sampler.notify.contact import unit_label
from sampler.planfiles.read import PlanFiles

__all__ = [
    "NOTICE_COLUMNS",
    "NoticeSet",
    "NoticesParams",
    "building_notice_html",
    "floor_of",
    "notice_rows",
    "notices_workbook",
    "safe_name",
    "write_notices",
]

NOTICE_COLUMNS = ["building_id", "unit", "floors", "households", "people", "mode", "site",
                  "slot_start", "slot_end"]
_ZONES = {"precaution": "防范区", "controlled": "管控区", "sealed": "封控区"}
_HEADERS = ["小区", "楼栋", "单元", "楼层", "户数", "人数", "采样时间", "采样地点"]
_SMALL_AREA = 20  # up to this many buildings the workbook has a sheet per building

_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimHei", sans-serif;
       font-size: 14pt; color: #000; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 28pt; text-align: center; margin: 0 0 6mm; letter-spacing: 4pt; }
.where { font-size: 18pt; font-weight: bold; text-align: center; margin: 0 0 4mm; }
.zone { font-size: 12pt; border: 1px solid #000; padding: 0 4pt; margin-left: 6pt; }
table { width: 100%; border-collapse: collapse; margin: 4mm 0; }
th, td { border: 1px solid #000; padding: 4pt 6pt; text-align: center; }
th { background: #eee; }
tr { page-break-inside: avoid; }
.home td { font-style: italic; }
.rules li { margin: 2pt 0; }
.qr { display: flex; align-items: center; gap: 6mm; margin: 4mm 0; font-size: 12pt; }
.qr svg { width: 32mm; height: 32mm; flex: none; }
@media print { th { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


@dataclass(frozen=True)
class NoticesParams:
    """The ``notices`` section of a scenario: empty for now.

    A notice takes everything it shows from the plan directory (area, buildings, units, slots,
    sites) and has no parameters of its own yet. The section exists so that a key written under
    ``notices:`` is reported as unknown instead of being silently ignored; a parameter added here
    becomes a checked key of the section.
    """


@dataclass(frozen=True)
class NoticeSet:
    """What `write_notices` wrote: the directory, the number of notices and the workbook path."""

    directory: Path
    buildings: int
    workbook: Path


def floor_of(room: str) -> int | None:
    """Floor of a room number: 501 → 5, 1203 → 12, 3-1201 → 12; None when it cannot be told."""
    match = re.search(r"(\d{3,4})\D*$", str(room))
    if not match:
        return None
    return int(match.group(1)[:-2]) or None


def notice_rows(plan: PlanFiles, building_ids: list[str] | None = None) -> pd.DataFrame:
    """Rows of the notices: per building, unit, run of floors, site or home, and slot."""
    a = plan.assignments
    if building_ids is not None:
        a = a[a["building_id"].isin(building_ids)]
    site_names = plan.sites.set_index("site_id")["name"]
    floor = np.array([floor_of(r) or 0 for r in a["room"]], dtype=np.int64)
    frame = pd.DataFrame({
        "building_id": a["building_id"].to_numpy(), "unit": a["unit"].to_numpy(), "floor": floor,
        "mode": a["mode"].to_numpy(),
        "site": np.where(a["mode"] == "home", "上门采样", a["site_id"].map(site_names).fillna(a["site_id"])),
        "slot_start": a["slot_start"].to_numpy(), "slot_end": a["slot_end"].to_numpy(),
        "size": a["size"].to_numpy(dtype=np.int64),
    })
    keys = ["building_id", "unit", "mode", "site", "slot_start", "slot_end"]
    # Floor 0 (unknown) sorts first in each group; known floors follow in order.
    per_floor = frame.groupby([*keys, "floor"], sort=True).agg(
        households=("size", "size"), people=("size", "sum")).reset_index()
    if per_floor.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in NOTICE_COLUMNS})
    group = per_floor.groupby(keys, sort=False).ngroup().to_numpy()
    fl = per_floor["floor"].to_numpy()
    new_group = np.r_[True, group[1:] != group[:-1]]
    new_run = new_group | np.r_[True, fl[1:] != fl[:-1] + 1] | (fl == 0) | np.r_[True, fl[:-1] == 0]
    runs = pd.DataFrame({"group": group[new_run], "first": fl[new_run],
                         "last": np.maximum.reduceat(fl, np.flatnonzero(new_run))})
    runs["label"] = [("其他" if a == 0 else f"{a}层" if a == b else f"{a}-{b}层")
                     for a, b in zip(runs["first"].tolist(), runs["last"].tolist(), strict=True)]
    # Known floors first, then the unknown ones; a group with only unknown floors reads 全部.
    runs["unknown"] = runs["first"] == 0
    runs = runs.sort_values(["group", "unknown"], kind="stable")
    labels = runs.groupby("group", sort=True)["label"].agg("、".join)
    only_unknown = runs.groupby("group", sort=True)["unknown"].all()
    labels[only_unknown] = "全部"
    firsts = runs[~runs["unknown"]].groupby("group")["first"].min()
    totals = per_floor.groupby(group, sort=True)[["households", "people"]].sum()
    heads = per_floor.loc[new_group, keys].reset_index(drop=True)
    out = heads.assign(
        floors=labels.reindex(range(len(heads))).to_numpy(),
        first_floor=firsts.reindex(range(len(heads))).fillna(0).astype(np.int64).to_numpy(),
        households=totals["households"].to_numpy(dtype=np.int64),
        people=totals["people"].to_numpy(dtype=np.int64),
    )
    out = out.sort_values(["building_id", "slot_start", "unit", "first_floor", "site"], kind="stable")
    return out[NOTICE_COLUMNS].reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, column-wise (much faster than DataFrame.to_dict per small group)."""
    columns = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def resident_qr(url: str) -> str:
    """An inline SVG QR code of the resident page's address (segno; error correction M). It
    carries only the address: residents type their own code there, so a notice on a wall gives
    nobody anyone else's code."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4, border=2, title="居民查询二维码"))


def building_notice_html(area: str, building: Mapping[str, str],
                         rows: pd.DataFrame | Sequence[Mapping[str, Any]], resident_url: str = "") -> str:
    """The printable notice of one building (rows: `notice_rows` of that building); with
    ``resident_url`` (the service's /r page) a QR code to it."""
    e = html.escape
    records = _records(rows) if isinstance(rows, pd.DataFrame) else rows
    name = building.get("name") or building.get("building_id", "")
    zone = _ZONES.get(building.get("risk_zone", ""), "")
    place = " ".join(x for x in (area, building.get("compound", ""), name) if x)
    body = []
    for r in records:
        unit = unit_label(str(r["unit"])) or "—"
        cls = ' class="home"' if r["mode"] == "home" else ""
        body.append(f"<tr{cls}><td>{e(unit)}</td><td>{e(str(r['floors']))}</td><td>{int(r['households'])}</td>"
                    f"<td>{e(_when(str(r['slot_start']), str(r['slot_end'])))}</td><td>{e(str(r['site']))}</td></tr>")
    zone_html = f'<span class="zone">{e(zone)}</span>' if zone else ""
    qr_html = (f'<div class="qr">{resident_qr(resident_url)}<p>微信扫码或打开 {e(resident_url)}，输入短信中的核酸码和'
               "登记手机号后4位，即可查询您家的采样时间和地点。</p></div>\n") if resident_url else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>核酸采样通知 - {e(name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        "<h1>核酸采样通知</h1>\n"
        f'<p class="where">{e(place)}{zone_html}</p>\n'
        "<p>请各位居民按下表时间分批下楼采样，不要提前到场聚集。</p>\n"
        "<table>\n<thead><tr><th>单元</th><th>楼层</th><th>户数</th><th>采样时间</th><th>采样地点</th></tr></thead>\n"
        f"<tbody>\n{chr(10).join(body)}\n</tbody>\n</table>\n{qr_html}"
        '<ul class="rules">\n<li>全家携带身份证（或电子健康码），全程佩戴口罩。</li>\n'
        "<li>排队时保持1米以上间距，采样后及时回家。</li>\n"
        "<li>安排上门采样的住户请在家等候，工作人员将按时上门。</li>\n"
        "<li>如有疑问或行动不便，请联系本楼网格员。</li>\n</ul>\n</body>\n</html>\n"
    )


def safe_name(text: str) -> str:
    """A file name from an id: letters, digits, CJK, '-', '_' and '.' kept, others become '_'."""
    name = re.sub(r"[^\w.\-]", "_", str(text)).strip(".") or "_"
    return name[:100]


def notices_workbook(plan: PlanFiles, path: str | Path, rows: pd.DataFrame | None = None) -> None:
    """One XLSX: a sheet per compound, or per building when the area has few buildings."""
    rows = notice_rows(plan) if rows is None else rows
    info = plan.buildings.drop_duplicates("building_id").set_index("building_id")
    compound = rows["building_id"].map(info["compound"]).fillna("")
    name = rows["building_id"].map(info["name"]).fillna(rows["building_id"])
    by_building = rows["building_id"].nunique() <= _SMALL_AREA
    group_key = name if by_building else compound.where(compound != "", "（未分小区）")
    used: set[str] = set()
    sheets = []
    table = rows.assign(_compound=compound, _name=name, _group=group_key.astype(str))
    table = table.sort_values("_group", kind="stable")
    for key, group in itertools.groupby(_records(table), key=lambda r: str(r["_group"])):
        sheet = Sheet(sheet_title(key, used, "Sheet"), widths=[14, 14, 8, 14, 7, 7, 22, 20])
        sheet.freeze_rows = 1
        sheet.append(_HEADERS, bold=True)
        sheet.extend(
            [str(r["_compound"]), str(r["_name"]), str(r["unit"]), str(r["floors"]), int(r["households"]),
             int(r["people"]), _when(str(r["slot_start"]), str(r["slot_end"])), str(r["site"])]
            for r in group
        )
        sheets.append(sheet)
    if not sheets:
        empty = Sheet("通知")
        empty.append(_HEADERS, bold=True)
        sheets.append(empty)
    write_xlsx(path, sheets, title=f"{plan.summary.get('area', '')} 楼栋采样通知")


def write_notices(plan: PlanFiles, directory: str | Path, force: bool = False,
                  inputs: Sequence[str | Path] | None = None, resident_url: str = "") -> NoticeSet:
    """Write ``<building>.html`` for every building with a slot, ``index.html`` and ``notices.xlsx``
    into ``directory``, all or nothing (`sampler.io.atomic.atomic_directory`: an earlier notices
    output there is replaced, ``force`` replaces another command's; ``inputs`` default to the
    plan directory)."""
    directory = Path(directory)
    inputs = [plan.directory] if inputs is None else inputs
    with atomic_directory(directory, "notices", force=force, inputs=inputs) as tmp:
        count = _write_notices(plan, tmp, resident_url)
    return NoticeSet(directory=directory, buildings=count, workbook=directory / "notices.xlsx")


def _write_notices(plan: PlanFiles, directory: Path, resident_url: str = "") -> int:
    rows = notice_rows(plan)
    area = str(plan.summary.get("area", ""))
    info = {str(r["building_id"]): {k: str(v) for k, v in r.items()}
            for r in _records(plan.buildings.drop_duplicates("building_id"))}
    links = []
    count = 0
    for bid, group in itertools.groupby(_records(rows), key=lambda r: str(r["building_id"])):
        b = info.get(bid, {"building_id": bid})
        file = f"{safe_name(bid)}.html"
        (directory / file).write_text(building_notice_html(area, b, list(group), resident_url), encoding="utf-8")
        links.append(f'<li><a href="{html.escape(file)}">{html.escape(b.get("name") or bid)}</a></li>')
        count += 1
    (directory / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(area)} 楼栋采样通知</title></head><body>"
        f"<h1>{html.escape(area)} 楼栋采样通知</h1><ul>{''.join(links)}</ul></body></html>\n",
        encoding="utf-8")
    notices_workbook(plan, directory / "notices.xlsx", rows)
    return count
