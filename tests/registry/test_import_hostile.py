"""Hostile and broken files at the registry import (issue 12 §4): XXE and billion laughs
are refused with a clear error (never a 500), zip bombs are refused before they cost
memory, a stale ``<dimension>`` tag does not hide rows, one bad row in 10,000 writes
nothing, and the stored report is bounded. Files are crafted in the test."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.registry.importers import registry_import, report_csv
from cunzhan.registry.models import Household, ImportBatch, Person
from tests.core.xlsx_craft import NS, sheet, xlsx
from tests.factories.registry import id_number

pytestmark = pytest.mark.django_db
SCOPE = RegionScope.for_regions(["520204"])
HEADER = ["村代码", "户编号", "姓名", "性别", "出生年份", "与户主关系"]
VILLAGE = "520204106201"


def person_row(i: int) -> list[str]:
    return [VILLAGE, f"H{i:05d}", f"村民{i}", "男", "1970", "户主"]


def _import(data: bytes, name: str = "f.xlsx") -> ImportBatch:
    return registry_import(scope=SCOPE, user=None, file_name=name, data=data)


def _refused(data: bytes, name: str = "f.xlsx") -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        _import(data, name)
    assert name in exc.value.message
    assert Household.objects.count() == 0 and ImportBatch.objects.count() == 0
    return exc.value


XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def _sheet_with_entity(doctype: str, entity: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet xmlns="{NS}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>村代码</t></is></c></row>'
        f'<row r="2"><c r="A2" t="inlineStr"><is><t>&{entity};</t></is></c></row>'
        "</sheetData></worksheet>"
    )


@pytest.mark.parametrize(("doctype", "entity"), [(XXE, "xxe"), (LAUGHS, "lol9")])
def test_xxe_and_billion_laughs_in_the_sheet_are_refused(regions, doctype, entity):
    err = _refused(xlsx(_sheet_with_entity(doctype, entity)))
    assert err.code == "invalid_import_file"
    assert "DTD" in err.message


def test_billion_laughs_in_the_shared_strings_is_refused(regions):
    strings = (
        f'<?xml version="1.0" encoding="UTF-8"?>{LAUGHS}<sst xmlns="{NS}" count="1">'
        "<si><t>&lol9;</t></si></sst>"
    )
    err = _refused(xlsx(sheet([HEADER]), strings))
    assert err.code == "invalid_import_file"


def test_a_hostile_file_through_the_api_is_a_422_not_a_500(regions, make_user, api_client):
    client = api_client(make_user("registry_officer", regions=["520204"]))
    for doctype, entity in ((XXE, "xxe"), (LAUGHS, "lol9")):
        f = SimpleUploadedFile("bad.xlsx", xlsx(_sheet_with_entity(doctype, entity)))
        r = client.post("/api/v1/registry/imports", {"file": f})
        assert r.status_code == 422, r.content
        assert r.json()["code"] == "invalid_import_file"
        assert set(r.json()) == {"code", "message", "details"}


def _bomb(text_chars: int) -> bytes:
    """A small file whose one cell unpacks to ``text_chars`` characters."""
    big = "A" * text_chars
    return xlsx(sheet([HEADER, [VILLAGE, "H1", big, "男", "1970", "户主"]]))


def test_a_zip_bomb_cell_is_refused_before_it_costs_memory(regions):
    data = _bomb(40_000_000)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        err = _refused(data)
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert err.code == "import_too_large" and err.details["limit"] == "cell"
    assert err.details["row"] == 2
    assert peak < 16 * 1024 * 1024, peak


def test_huge_shared_strings_are_refused(regions):
    strings = f'<sst xmlns="{NS}" count="1"><si><t>{"B" * 30_000_000}</t></si></sst>'
    rows = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    data = xlsx(
        f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData>{rows}</sheetData></worksheet>',
        strings,
    )
    assert len(data) < 200_000
    err = _refused(data)
    assert err.code == "import_too_large"


def test_the_unpacked_size_is_capped(regions, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 1024 * 1024
    rows = [HEADER, *(person_row(i) for i in range(20_000))]
    err = _refused(xlsx(sheet(rows)))
    assert err.code == "import_too_large" and err.details["limit"] == "unpacked"


def test_too_many_rows_are_refused_without_reading_them_all(regions, settings):
    settings.IMPORT_MAX_ROWS = 1000
    rows = [HEADER, *(person_row(i) for i in range(30_000))]
    data = xlsx(sheet(rows))
    started = time.monotonic()
    tracemalloc.start()
    try:
        err = _refused(data)
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert err.code == "import_too_large" and err.details["limit"] == "rows"
    assert "1000" in err.message
    assert peak < 16 * 1024 * 1024, peak
    assert time.monotonic() - started < 20


def test_a_cell_far_to_the_right_is_refused(regions):
    s = (
        f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>村代码</t></is></c>'
        '<c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>'
    )
    err = _refused(xlsx(s))
    assert err.code == "import_too_large" and err.details["limit"] == "columns"


def test_a_sheet_that_breaks_only_when_read_is_a_clear_error(regions):
    s = f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1"'
    err = _refused(xlsx(s))
    assert err.code == "invalid_import_file"


def test_a_stale_dimension_tag_does_not_hide_rows(regions):
    rows = [HEADER, *(person_row(i) for i in range(5))]
    batch = _import(xlsx(sheet(rows, dimension="A1:B2")))
    assert batch.errors == []
    assert (batch.rows_total, batch.rows_imported) == (5, 5)
    assert Person.objects.count() == 5


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode()


def test_one_bad_row_in_ten_thousand_writes_nothing(regions):
    rows = [HEADER, *(person_row(i) for i in range(10_000))]
    rows[7_001][3] = "未知"  # the sex of spreadsheet row 7002
    batch = _import(_csv(rows), "big.csv")
    assert batch.rows_total == 10_000
    assert batch.rows_imported == 0 and batch.rows_failed == 1
    assert [(e["row"], e["column"]) for e in batch.errors] == [(7_002, "性别")]
    assert Household.objects.count() == 0 and Person.objects.count() == 0


def test_a_row_that_fails_only_on_write_rolls_the_whole_file_back(regions):
    number = id_number(born=dt.date(1970, 1, 1), sex="male")
    header = [*HEADER, "身份证号"]
    _import(_csv([header, [*person_row(1), number]]), "first.csv")
    assert Person.objects.count() == 1
    # the same ID number in another household is only found when written
    rows = [header, [*person_row(2), ""], [*person_row(3), number], [*person_row(4), ""]]
    rows[2][4] = "1970"
    batch = _import(_csv(rows), "second.csv")
    assert batch.rows_imported == 0
    assert [(e["row"], e["column"]) for e in batch.errors] == [(3, "身份证号")]
    assert Person.objects.count() == 1 and Household.objects.count() == 1
    assert (batch.households_created, batch.persons_created) == (0, 0)


def test_the_stored_report_is_bounded_and_says_how_many_more(regions, settings):
    settings.IMPORT_MAX_ERRORS = 5
    long_relation = "老板" * 400  # 800 characters, quoted in the problem
    rows = [HEADER, *([VILLAGE, f"H{i}", "张三", "男", "1970", long_relation] for i in range(40))]
    batch = _import(_csv(rows), "many.csv")
    assert batch.rows_failed == 40 and len(batch.errors) == 5
    assert all(len(e["problem"]) <= 300 for e in batch.errors)
    text = report_csv(batch)
    assert "另有 35 行" in text
    assert len(str(batch.errors)) < 5_000


def test_a_csv_cell_over_the_limit_is_refused(regions, settings):
    settings.IMPORT_MAX_CELL_CHARS = 100
    rows = [HEADER, [VILLAGE, "H1", "张" * 101, "男", "1970", "户主"]]
    err = _refused(_csv(rows), "long.csv")
    assert err.code == "import_too_large"
    assert (err.details["limit"], err.details["row"], err.details["column"]) == ("cell", 2, 3)


def test_openpyxl_parses_through_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


def test_the_crafted_files_are_real_xlsx(regions):
    """The crafted workbook is a workbook: the same builder with good rows imports."""
    data = xlsx(sheet([HEADER, person_row(1)]))
    assert zipfile.is_zipfile(__import__("io").BytesIO(data))
    assert _import(data).rows_imported == 1
