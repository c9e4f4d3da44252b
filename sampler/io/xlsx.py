"""A small, fast, deterministic XLSX writer for big plain tables.

openpyxl and XlsxWriter spend ~10 µs per cell; a megacity plan has hundreds of thousands of cells,
so the planners' workbook is written here as SpreadsheetML with inline strings in one pass per sheet.
It supports what the plan workbook needs: several sheets, text and numbers, a bold header row,
column widths, a frozen header and, for sheets meant to be printed, A4 set-up (fit to the page
width, header rows repeated on every page). Files are byte-identical for identical content (fixed timestamps).
Read them back with openpyxl (tests do).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

__all__ = ["Sheet", "sheet_title", "write_xlsx"]

Cell = str | int | float | None
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")  # characters Excel refuses in a worksheet title


def sheet_title(text: str, used: set[str], fallback: str = "sheet") -> str:
    """A worksheet title for ``text`` that Excel accepts and that is not taken yet.

    The characters []:*?/\\ become '_', apostrophes at either end go, the title is cut to 31
    characters and a repeat (Excel compares titles case-insensitively) gets ~2, ~3, …; an empty
    title becomes ``fallback``. ``used`` holds the lower-cased titles given so far and is updated.
    """
    base = _SHEET_BAD.sub("_", str(text)).strip("'")[:31].rstrip("'") or fallback
    title, k = base, 1
    while title.lower() in used:
        k += 1
        title = f"{base[: 31 - len(str(k)) - 1]}~{k}"
    used.add(title.lower())
    return title


class Sheet:
    """One worksheet: a title, rows of cells, which rows are bold, column widths."""

    def __init__(self, title: str, widths: Sequence[float] = ()) -> None:
        self.title = title
        self.widths = list(widths)
        self.rows: list[tuple[bool, Sequence[Cell]]] = []
        self.freeze_rows = 0
        self.print_a4 = False  # A4, fit to one page wide
        self.landscape = False
        self.print_title_rows = 0  # rows repeated at the top of every printed page

    def for_print(self, title_rows: int = 1, landscape: bool = False) -> Sheet:
        """Set the sheet up for A4: fit to width, the first ``title_rows`` rows on every page."""
        self.print_a4, self.landscape, self.print_title_rows = True, landscape, title_rows
        return self

    def append(self, values: Sequence[Cell], bold: bool = False) -> None:
        self.rows.append((bold, values))

    def extend(self, rows: Iterable[Sequence[Cell]]) -> None:
        self.rows.extend((False, r) for r in rows)


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


_BAD_XML = dict.fromkeys(range(32), None)
for _keep in (9, 10, 13):
    del _BAD_XML[_keep]
# One pass that drops the characters XML forbids and escapes &, < and > (as saxutils.escape does).
_TEXT_XML = {**_BAD_XML, ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}


def _cell(ref: str, value: Cell, style: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{style}><v>{value!r}</v></c>'
    text = escape(str(value).translate(_BAD_XML))
    return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _sheet_xml(sheet: Sheet) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    if sheet.print_a4:
        parts.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
    if sheet.freeze_rows:
        parts.append(f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{sheet.freeze_rows}" '
                     f'topLeftCell="A{sheet.freeze_rows + 1}" activePane="bottomLeft" state="frozen"/>'
                     '</sheetView></sheetViews>')
    if sheet.widths:
        parts.append("<cols>" + "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w:g}" customWidth="1"/>' for i, w in enumerate(sheet.widths)
        ) + "</cols>")
    parts.append("<sheetData>")
    # Cells carry no reference: a row's cells are written in column order, an empty cell in the
    # middle as <c/> (trailing empty cells are dropped). A cell's XML then depends only on its
    # value and style, so it is rendered once per distinct value (plan sheets repeat slot labels,
    # compounds and small counts).
    bodies: tuple[dict[object, str], dict[object, str]] = ({}, {})
    for r, (bold, values) in enumerate(sheet.rows, start=1):
        cache = bodies[bold]
        style = ' s="1"' if bold else ""
        cells = []
        for v in values:
            key = v if v.__class__ is str else (v.__class__, v)
            body = cache.get(key)
            if body is None:
                if v.__class__ is str:  # what _cell writes, without the reference, in one step
                    body = f'<c{style} t="inlineStr"><is><t xml:space="preserve">{v.translate(_TEXT_XML)}</t></is></c>' if v else "<c/>"
                else:
                    body = _cell("", v, style).replace('<c r=""', "<c", 1) or "<c/>"
                cache[key] = body
            cells.append(body)
        while cells and cells[-1] == "<c/>":
            cells.pop()
        parts.append(f'<row r="{r}">{"".join(cells)}</row>')
    parts.append("</sheetData>")
    if sheet.print_a4:
        orientation = "landscape" if sheet.landscape else "portrait"
        parts.append('<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
                     f'<pageSetup paperSize="9" orientation="{orientation}" fitToWidth="1" fitToHeight="0"/>')
    parts.append("</worksheet>")
    return "".join(parts)


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _print_titles(sheets: Sequence[Sheet]) -> str:
    names = [
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        f"'{escape(s.title.replace(chr(39), chr(39) * 2))}'!$1:${s.print_title_rows}</definedName>"
        for i, s in enumerate(sheets) if s.print_a4 and s.print_title_rows]
    return f"<definedNames>{''.join(names)}</definedNames>" if names else ""


def write_xlsx(path: str | Path | IO[bytes], sheets: Sequence[Sheet], title: str = "") -> None:
    """Write the sheets to ``path`` (a file name or a binary file object) as an XLSX workbook."""
    n = len(sheets)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                  for i in range(n))
        + "</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>"
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>sampler</dc:creator>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:created>'
        "</cp:coreProperties>"
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{escape(s.title, {chr(34): "&quot;"})}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                  for i, s in enumerate(sheets))
        + "</sheets>" + _print_titles(sheets) + "</workbook>"
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  f'relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(n))
        + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/styles" Target="styles.xml"/></Relationships>'
    )
    parts = [("[Content_Types].xml", content_types), ("_rels/.rels", root_rels), ("docProps/core.xml", core),
             ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", wb_rels), ("xl/styles.xml", _STYLES)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in parts:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), text.encode("utf-8"),
                        compress_type=zipfile.ZIP_DEFLATED)
        for i, sheet in enumerate(sheets):
            zf.writestr(zipfile.ZipInfo(f"xl/worksheets/sheet{i + 1}.xml", date_time=(2000, 1, 1, 0, 0, 0)),
                        _sheet_xml(sheet).encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED,
                        compresslevel=1)  # sheets are most of the bytes: fast deflate
