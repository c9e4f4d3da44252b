"""Excel templates of the registry files, as a street office fills them in (`sampler template`).

One workbook per file — 人员花名册 (persons), 户籍登记 (households), 小区 (compounds), 采样点 (sites) —
with Chinese headers the readers accept (`sampler.registry.headers`), one example row (marked
示例: delete or overwrite it), columns formatted as text where Excel would mangle numbers
(identity numbers, phones, rooms), and drop-down lists (data validation) for the risk zone and
the special needs. The example identity number is made up (its check digit is valid).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from sampler.model import SPECIAL_NEEDS_ZH
from sampler.registry.idcard import check_char

__all__ = ["TEMPLATES", "template_bytes", "write_templates"]

_ZONES = ("防范区", "管控区", "封控区")
_EXAMPLE_ID = "99010119800101001" + check_char("99010119800101001")  # region 99: no such province

# file name → (sheet title, [(header, example, width, text?, drop-down)])
TEMPLATES: dict[str, tuple[str, list[tuple[str, str, float, bool, tuple[str, ...] | None]]]] = {
    "persons.xlsx": ("人员花名册", [
        ("姓名", "张伟", 10, False, None), ("身份证号", _EXAMPLE_ID, 22, True, None),
        ("性别", "男", 6, False, ("男", "女")), ("与户主关系", "户主", 12, False, ("户主", "配偶", "子女", "父母", "其他")),
        ("住址", "湖绣家园3号楼2单元501室", 30, False, None), ("联系电话", "13812345678", 14, True, None),
        ("网格", "第一网格", 12, False, None), ("户号", "", 12, True, None), ("小区", "湖绣家园", 14, False, None),
        ("楼栋", "", 8, True, None), ("单元", "", 8, True, None), ("房号", "", 8, True, None),
        ("特殊人群", "", 12, False, SPECIAL_NEEDS_ZH), ("备注", "示例行，请删除", 20, False, None),
    ]),
    "households.xlsx": ("户籍登记", [
        ("户编号", "H0001", 10, True, None), ("楼栋", "B001", 10, True, None), ("单元", "2", 8, True, None),
        ("房号", "501", 8, True, None), ("人数", "3", 8, False, None), ("60岁以上人数", "1", 12, False, None),
        ("6岁以下人数", "0", 12, False, None), ("户主", "张伟", 10, False, None),
        ("联系电话", "13812345678", 14, True, None), ("特殊人群", "", 12, False, SPECIAL_NEEDS_ZH),
        ("意向时段", "", 10, False, ("上午", "下午", "晚上")),
    ]),
    "compounds.xlsx": ("小区", [
        ("小区", "湖绣家园", 16, False, None), ("经度", "120.0873", 12, False, None),
        ("纬度", "30.8941", 12, False, None), ("风险区", "防范区", 10, False, _ZONES),
        ("网格", "第一网格", 12, False, None), ("楼栋", "", 8, True, None), ("街道", "芝山街道", 12, False, None),
    ]),
    "sites.xlsx": ("采样点", [
        ("采样点编号", "S01", 10, True, None), ("采样点名称", "湖绣家园东门采样点", 22, False, None),
        ("经度", "120.0875", 12, False, None), ("纬度", "30.8945", 12, False, None),
        ("采样台数", "2", 10, False, None), ("每台每小时人数", "80", 14, False, None),
        ("开放时间", "06:00", 10, True, None), ("关闭时间", "22:00", 10, True, None),
        ("服务小区", "", 14, False, None), ("排队长度米", "100", 12, False, None),
    ]),
}
_ROWS = 5000  # rows the drop-downs and text formats cover


def _workbook(title: str, columns: list[tuple[str, str, float, bool, tuple[str, ...] | None]],
              path: Path | BinaryIO) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append([c[0] for c in columns])
    sheet.append([c[1] for c in columns])
    for j, (_, _, width, text, choices) in enumerate(columns, start=1):
        letter = get_column_letter(j)
        sheet.cell(1, j).font = Font(bold=True)
        sheet.column_dimensions[letter].width = width
        if text:
            for i in range(2, 2 + _ROWS):
                sheet.cell(i, j).number_format = "@"
        if choices:
            rule = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                                  showErrorMessage=choices is _ZONES, errorTitle="请选择", error="请从下拉列表中选择")
            rule.add(f"{letter}2:{letter}{_ROWS + 1}")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    # landscape only when the columns are wider than an A4 page stood upright (as every workbook)
    sheet.page_setup.orientation = "landscape" if sum(c[2] for c in columns) > 105 else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    book.properties.creator = "sampler"
    book.save(path)


def write_templates(out: Path, force: bool = False) -> list[str]:
    """Write the four templates into ``out`` (all or nothing, `sampler.io.atomic.atomic_directory`);
    returns the file names."""
    from sampler.io.atomic import atomic_directory

    with atomic_directory(out, "template", force=force) as tmp:
        for name, (title, columns) in TEMPLATES.items():
            _workbook(title, columns, tmp / name)
    return list(TEMPLATES)


def template_bytes(name: str) -> bytes:
    """One template (a key of `TEMPLATES`, e.g. ``persons.xlsx``) as the bytes of its workbook;
    KeyError for another name."""
    title, columns = TEMPLATES[name]
    out = io.BytesIO()
    _workbook(title, columns, out)
    return out.getvalue()
