"""Registry templates over the API: the same workbooks `sampler template` writes."""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient

from sampler.registry.templates import TEMPLATES
from tests.api.conftest import auth


@pytest.mark.parametrize("name", ["persons", "households", "compounds", "sites"])
def test_template_download_has_chinese_headers_and_an_example(client: TestClient, name: str) -> None:
    r = client.get(f"/api/v1/templates/{name}.xlsx", headers=auth())
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="{name}.xlsx"' in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    sheet = book.active
    title, columns = TEMPLATES[f"{name}.xlsx"]
    assert sheet.title == title
    assert [c.value for c in sheet[1]] == [c[0] for c in columns]
    assert [c.value or "" for c in sheet[2]] == [c[1] for c in columns]  # the example row
    if name in ("persons", "compounds"):  # special needs / risk zone drop-downs
        assert sheet.data_validations.dataValidation


def test_template_errors(client: TestClient) -> None:
    assert client.get("/api/v1/templates/persons.xlsx").status_code == 200  # no one's data: no key needed
    assert client.get("/api/v1/templates/secrets.xlsx", headers=auth()).status_code == 422
