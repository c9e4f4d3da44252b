"""Scenario uploads: valid files are stored; bad encodings, missing columns, garbage and oversize
files get clear 4xx answers naming file/row/field, and nothing is stored."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api.conftest import auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv

pytest.importorskip("sampler.registry.read", reason="the registry reader has not landed yet")


def _upload(client: TestClient, households: bytes, buildings: bytes | None = None, sites: bytes | None = None,
            parameters: str = PARAMETERS, name: str = "households.csv") -> tuple[int, object]:
    files = {"households": (name, households, "text/csv"),
             "buildings": ("buildings.csv", buildings or buildings_csv(), "text/csv"),
             "sites": ("sites.csv", sites or sites_csv(), "text/csv")}
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": parameters, "name": "test"}, headers=auth())
    return r.status_code, r.json()


def _stored(client: TestClient) -> int:
    return int(client.get("/api/v1/scenarios", headers=auth()).json()["count"])


def test_valid_upload_is_stored(client: TestClient) -> None:
    """A valid registry is stored with its counts and parameters, and can be read and deleted."""
    code, body = _upload(client, households_csv())
    assert code == 201, body
    assert isinstance(body, dict)
    assert (body["households"], body["buildings"], body["sites"], body["area"]) == (30, 3, 2, "幸福街道")
    assert body["parameters"]["sms"] == {"sign": "幸福街道"}
    sid = body["id"]
    assert client.get(f"/api/v1/scenarios/{sid}", headers=auth()).json()["name"] == "test"
    assert client.delete(f"/api/v1/scenarios/{sid}", headers=auth()).status_code == 200
    assert _stored(client) == 0


def test_missing_column_names_file_and_field(client: TestClient) -> None:
    """A households file without the size column is a 422 naming the file and the field."""
    text = households_csv().decode().splitlines()
    dropped = "\n".join(",".join(line.split(",")[:4] + line.split(",")[5:]) for line in text).encode()
    code, body = _upload(client, dropped)
    assert code == 422
    assert isinstance(body, dict)
    issues = body["detail"]
    assert any(i["field"] == "size" and "households" in i["file"] and i["fix"] for i in issues)
    assert _stored(client) == 0


def test_bad_row_value_names_the_row(client: TestClient) -> None:
    """A bad size in data row 3 is reported with row 4, as Excel shows it (the header is row 1)."""
    lines = households_csv().decode().splitlines()
    cells = lines[3].split(",")
    cells[4] = "many"
    lines[3] = ",".join(cells)
    code, body = _upload(client, ("\n".join(lines) + "\n").encode())
    assert code == 422
    assert isinstance(body, dict)
    assert any(i["row"] == 4 and i["field"] == "size" for i in body["detail"])
    assert _stored(client) == 0


def test_wrong_encoding_is_a_4xx(client: TestClient) -> None:
    """UTF-16 without a byte-order mark is refused with a 4xx and nothing is stored; with one (Excel's
    "Unicode 文本") it is read."""
    code, _ = _upload(client, households_csv().decode().encode("utf-16-le"))
    assert 400 <= code < 500
    assert _stored(client) == 0
    code, _ = _upload(client, households_csv().decode().encode("utf-16"))
    assert code == 201 and _stored(client) == 1


def test_ten_megabytes_of_garbage_is_a_4xx(client: TestClient) -> None:
    """10 MB of random bytes as the households file gets a 4xx and stores nothing."""
    garbage = np.random.default_rng(0).integers(0, 256, 10 * 1024 * 1024, dtype=np.uint8).tobytes()
    code, _ = _upload(client, garbage)
    assert 400 <= code < 500
    assert _stored(client) == 0


def test_bad_parameters_and_file_types(client: TestClient) -> None:
    """Broken YAML, unknown sections and non-CSV/XLSX files are 422s naming what is wrong."""
    code, body = _upload(client, households_csv(), parameters="window: [unclosed")
    assert code == 422
    code, body = _upload(client, households_csv(), parameters="colour: red")
    assert code == 422 and isinstance(body, dict) and body["detail"][0]["field"] == "colour"
    code, body = _upload(client, households_csv(), name="households.exe")
    assert code == 422
    assert _stored(client) == 0


def test_oversize_upload_is_413(settings: Settings) -> None:
    """A file over SAMPLER_MAX_UPLOAD_MB is refused with 413."""
    small = settings.model_copy(update={"max_upload_mb": 0.001})
    with TestClient(create_app(small)) as c:
        code, _ = _upload(c, households_csv(200))
        assert code == 413
        assert _stored(c) == 0


def test_scenario_file_upload_is_accepted_and_not_both(client: TestClient) -> None:
    """The scenario may come as a file (`scenario`) instead of the `parameters` field, but not both."""
    files = {"households": ("households.csv", households_csv(), "text/csv"),
             "buildings": ("buildings.csv", buildings_csv(), "text/csv"),
             "sites": ("sites.csv", sites_csv(), "text/csv"),
             "scenario": ("scenario.yaml", PARAMETERS.encode("utf-8"), "application/yaml")}
    r = client.post("/api/v1/scenarios", files=files, headers=auth())
    assert r.status_code == 201, r.json()
    assert r.json()["area"] == "幸福街道"
    before = _stored(client)
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": PARAMETERS}, headers=auth())
    assert r.status_code == 422
    assert "not both" in r.text
    assert _stored(client) == before
