"""Hostile and broken uploads get a 4xx naming the file and what is wrong, never a 500, and store
nothing: random bytes or a CSV named .xlsx, DTD entities, zip bombs, NUL bytes, a header-only
households file, a 'billion laughs' parameters document, too-large requests, a parse over its time."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api.conftest import auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv

pytest.importorskip("sampler.registry.read", reason="the registry reader has not landed yet")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         '</Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
             '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '</Relationships>')
_SHEET_HEAD = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'


def _xlsx(sheet_chunks: list[bytes] | bytes, repeat: int = 1) -> bytes:
    """A minimal workbook whose sheet1.xml is ``sheet_chunks`` (written ``repeat`` times, streamed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunks = sheet_chunks if isinstance(sheet_chunks, list) else [sheet_chunks]
            sheet.write(chunks[0])
            for _ in range(repeat):
                for chunk in chunks[1:-1]:
                    sheet.write(chunk)
            if len(chunks) > 1:
                sheet.write(chunks[-1])
    return buf.getvalue()


def _row(cells: list[str]) -> bytes:
    return ("<row>" + "".join(f'<c t="inlineStr"><is><t>{c}</t></is></c>' for c in cells) + "</row>").encode()


def _upload(client: TestClient, households: bytes, name: str = "households.csv", parameters: str = PARAMETERS,
            form_name: str = "test") -> tuple[int, object]:
    files = {"households": (name, households, "application/octet-stream"),
             "buildings": ("buildings.csv", buildings_csv(), "text/csv"),
             "sites": ("sites.csv", sites_csv(), "text/csv")}
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": parameters, "name": form_name},
                    headers=auth())
    return r.status_code, r.json()


def _stored(client: TestClient) -> int:
    return int(client.get("/api/v1/scenarios", headers=auth()).json()["count"])


def _issue(body: object) -> dict[str, object]:
    assert isinstance(body, dict) and isinstance(body["detail"], list), body
    issue: dict[str, object] = body["detail"][0]
    return issue


def test_random_bytes_named_xlsx_is_a_4xx_naming_the_file(client: TestClient) -> None:
    """10 MB of random bytes named households.xlsx: 422 naming households.xlsx, nothing stored."""
    garbage = np.random.default_rng(1).integers(0, 256, 10 * 2**20, dtype=np.uint8).tobytes()
    code, body = _upload(client, garbage, "households.xlsx")
    assert code == 422, body
    assert _issue(body)["file"] == "households.xlsx" and "xlsx" in str(_issue(body)["fix"]).lower()
    assert _stored(client) == 0


def test_csv_renamed_xlsx_is_a_4xx(client: TestClient) -> None:
    """A CSV saved under an .xlsx name is refused with a 422 naming the file."""
    code, body = _upload(client, households_csv(), "households.xlsx")
    assert code == 422, body
    assert _issue(body)["file"] == "households.xlsx"
    assert _stored(client) == 0


def test_xlsx_with_dtd_entities_is_a_4xx(client: TestClient) -> None:
    """A workbook whose sheet declares nested entities (billion laughs) is a 4xx, not a 500 or a stall."""
    entities = '<!ENTITY a "' + "x" * 100 + '">' + "".join(
        f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>' + _SHEET_HEAD).encode() + _row(
        ["household_id", "building_id", "size"]) + _row(["&i;", "B1", "1"]) + b"</sheetData></worksheet>"
    code, body = _upload(client, _xlsx(sheet), "households.xlsx")
    assert 400 <= code < 500, body
    assert "households.xlsx" in str(_issue(body)["file"])
    assert _stored(client) == 0


def test_zip_bomb_is_refused_before_it_is_inflated(client: TestClient) -> None:
    """A 200 MB sheet packed 1000-fold is refused from the zip's directory: 413/422 naming the file."""
    header = (_SHEET_HEAD.encode() + _row(["household_id", "building_id", "size"]))
    chunk = _row(["H1", "B1", "1"]) * 20_000
    bomb = _xlsx([header, chunk, b"</sheetData></worksheet>"], repeat=200_000_000 // len(chunk))
    assert len(bomb) < 2 * 2**20
    code, body = _upload(client, bomb, "households.xlsx")
    assert code in (413, 422), body
    issue = _issue(body)
    assert issue["file"] == "households.xlsx" and "unpacks" in str(issue["fix"])
    assert _stored(client) == 0


def test_nul_bytes_are_a_422_on_every_backend(client: TestClient) -> None:
    """NUL in the scenario name, the area or a registry cell is a 422 (PostgreSQL cannot store it)."""
    code, body = _upload(client, households_csv(), form_name="a\x00b")
    assert code == 422 and _issue(body)["file"] == "name"
    code, body = _upload(client, households_csv(), parameters=PARAMETERS.replace("area: 幸福街道", 'area: "幸福\\0街道"'))
    assert code == 422 and _issue(body)["field"] == "area", body
    lines = households_csv().decode().splitlines()
    lines[2] = lines[2] + "\x00"
    code, body = _upload(client, ("\n".join(lines) + "\n").encode())
    assert code == 422, body
    assert _issue(body)["file"] == "households.csv" and _issue(body)["row"] == 3  # line 3, as an editor shows it
    assert _stored(client) == 0


def test_nul_in_a_contact_of_an_xlsx_is_a_422(client: TestClient) -> None:
    """A workbook whose contact cell holds a NUL character reference is refused at upload."""
    rows = [_row(["household_id", "building_id", "size", "contact"]), _row(["H1", "B1", "2", "王&#0;五"]),
            _row(["H2", "B1", "1", "李四"])]
    sheet = _SHEET_HEAD.encode() + b"".join(rows) + b"</sheetData></worksheet>"
    code, body = _upload(client, _xlsx(sheet), "households.xlsx")
    assert code == 422, body
    assert _issue(body)["file"] == "households.xlsx"
    assert _stored(client) == 0


def test_header_only_households_is_a_422(client: TestClient) -> None:
    """A households file with the header and no rows is refused, not stored to fail in the job."""
    header = households_csv().decode().splitlines()[0] + "\n"
    code, body = _upload(client, header.encode())
    assert code == 422, body
    assert _issue(body)["file"] == "households.csv" and "no households" in str(_issue(body)["fix"])
    assert _stored(client) == 0


def test_billion_laughs_parameters_do_not_expand(client: TestClient) -> None:
    """YAML aliases are refused: 400 bytes of nested aliases are a 422, nothing stored."""
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(6))
    assert len(laughs) < 500
    code, body = _upload(client, households_csv(), parameters=laughs)
    assert code == 422, body
    assert "aliases" in str(_issue(body)["fix"])
    code, body = _upload(client, households_csv(), parameters="x: " + "[" * 500 + "]" * 500)
    assert code == 422, body
    assert _stored(client) == 0


def test_request_and_parse_limits(settings: Settings) -> None:
    """A body over SAMPLER_MAX_REQUEST_MB, rows over SAMPLER_MAX_ROWS and a parse over its time are 413/422."""
    small = settings.model_copy(update={"max_request_mb": 0.01, "max_rows": 20})
    with TestClient(create_app(small)) as c:
        code, body = _upload(c, households_csv(1000))
        assert code == 413, body
        code, body = _upload(c, households_csv(25))
        assert code == 422 and "at most 20 rows" in str(_issue(body)["fix"])
        r = c.post("/api/v1/plans", content=b"{" + b" " * 2 * 2**20 + b"}", headers={**auth(), "Content-Type": "application/json"})
        assert r.status_code == 413
        assert _stored(c) == 0
    narrow = settings.model_copy(update={"max_cell_chars": 20})
    with TestClient(create_app(narrow)) as c:
        lines = households_csv().decode().splitlines()
        lines = [lines[0] + ",contact"] + [f"{line},{'长' * (30 if i == 4 else 2)}" for i, line in enumerate(lines[1:], 1)]
        code, body = _upload(c, ("\n".join(lines) + "\n").encode())
        assert code == 422, body
        assert (_issue(body)["row"], _issue(body)["field"]) == (5, "contact")  # Excel row: header on 1 and "at most 20" in str(_issue(body)["fix"])
    slow = settings.model_copy(update={"upload_parse_seconds": 0.001})
    with TestClient(create_app(slow)) as c:
        code, body = _upload(c, households_csv())
        assert code == 413 and "longer than" in str(_issue(body)["fix"]), body
        assert _stored(c) == 0
