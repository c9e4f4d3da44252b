"""Hostile and malformed registry files, made small in the test (issue 10, item 6)."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

__all__ = ["csv_as_xlsx", "dtd_xlsx", "random_bytes", "replace_part", "sheet_xml", "workbook", "zip_bomb_xlsx"]

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def workbook(path: Path, rows: list[list[object]]) -> Path:
    """An ordinary workbook written by openpyxl (shared strings, cell references)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def replace_part(path: Path, part: str, data: bytes, level: int = 6) -> Path:
    """Rewrite one part of a zip archive (e.g. xl/worksheets/sheet1.xml)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == part else src.read(info.filename))
    path.write_bytes(buf.getvalue())
    return path


def sheet_xml(body: str, prolog: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', head: str = "") -> bytes:
    return f'{prolog}<worksheet xmlns="{_NS}">{head}<sheetData>{body}</sheetData></worksheet>'.encode()


def random_bytes(path: Path, size: int, seed: int = 0) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def csv_as_xlsx(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def dtd_xlsx(path: Path, header: list[str]) -> Path:
    """A workbook whose sheet declares nested entities ("billion laughs") and uses them in a cell."""
    workbook(path, [header])
    entities = '<!ENTITY a "hahahahahahahahahaha">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    prolog = f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE worksheet [{entities}]>'
    cells = "".join(f'<c r="{chr(65 + j)}1" t="inlineStr"><is><t>{h}</t></is></c>' for j, h in enumerate(header))
    body = f'<row r="1">{cells}</row><row r="2"><c r="A2" t="inlineStr"><is><t>&i;</t></is></c></row>'
    return replace_part(path, "xl/worksheets/sheet1.xml", sheet_xml(body, prolog))


def zip_bomb_xlsx(path: Path, header: list[str], megabytes: int = 20) -> Path:
    """A workbook whose sheet unzips to ``megabytes`` MB of identical rows (a few tens of KB zipped)."""
    workbook(path, [header])
    cells = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in header)
    row = '<row><c t="inlineStr"><is><t>H1</t></is></c><c t="inlineStr"><is><t>B1</t></is></c><c><v>1</v></c></row>'
    body = f"<row>{cells}</row>" + row * (megabytes * (1 << 20) // len(row))
    return replace_part(path, "xl/worksheets/sheet1.xml", sheet_xml(body), level=9)
