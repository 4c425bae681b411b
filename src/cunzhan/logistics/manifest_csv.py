"""A carrier's manifest as a CSV file (issue 3 §1), turned into the rows of
:func:`cunzhan.logistics.services.manifest_intake`.

- Encoding: UTF-8 (with or without a BOM), else GB18030 (what Excel writes on a
  Chinese Windows: carriers' exports often are).
- Header names in English or Chinese (one header line; case and spaces ignored):

  ==========================  ==========================================================
  tracking_number             运单号 / 快递单号 / 单号
  recipient_name              收件人 / 收件人姓名
  phone                       电话 / 收件人电话 / 手机 / 手机号
  village_code                村代码 / 村 (the village's 12-digit statistical code)
  weight_g                    重量(克) / 重量(g) / weight_g — whole grams
  weight_kg                   重量(kg) / 重量(千克) / 重量(公斤) / weight_kg — kilograms,
                              at most 3 decimals (exactly converted to grams)
  size_class                  尺寸 / 规格 / size (S, M, L, XL; default S)
  cod_yuan                    代收货款 / 代收货款(元) / cod_yuan — yuan, at most 2 decimals
  cod_fen                     代收货款(分) / cod_fen — whole fen
  ==========================  ==========================================================

  A bare 重量 / weight column is refused: the unit must be named (a kilogram figure
  read as grams would be off by 1000). Amounts are parsed as decimals, never floats.
- Errors name the CSV line (the header is line 1) and the column as written in the
  file; the whole file is validated (here and by ``manifest_intake``) before anything
  is written, and nothing is written on any error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cunzhan.core import tabular
from cunzhan.core.errors import ApplicationError, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = services.MAX_BATCH

HEADERS: dict[str, str] = {}
for _key, _names in {
    "tracking_number": ("tracking_number", "运单号", "快递单号", "单号"),
    "recipient_name": ("recipient_name", "收件人", "收件人姓名"),
    "phone": ("phone", "电话", "收件人电话", "手机", "手机号"),
    "village_code": ("village_code", "村代码", "村"),
    "weight_g": ("weight_g", "重量(克)", "重量(g)"),
    "weight_kg": ("weight_kg", "重量(kg)", "重量(千克)", "重量(公斤)"),
    "size_class": ("size_class", "size", "尺寸", "规格"),
    "cod_yuan": ("cod_yuan", "代收货款", "代收货款(元)"),
    "cod_fen": ("cod_fen", "代收货款(分)"),
}.items():
    for _name in _names:
        HEADERS[_name.lower()] = _key
REQUIRED = ("tracking_number", "recipient_name", "phone", "village_code")
AMBIGUOUS = {"重量", "weight"}


def _norm(header: str) -> str:
    h = header.strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", h)


@dataclass
class CsvManifest:
    rows: list[dict[str, Any]]
    lines: list[int]  # the CSV line of each row
    columns: dict[str, str]  # row field -> the column name as written in the file
    encoding: str


def _fail(errors: list[dict[str, Any]]) -> None:
    """Every problem found, up to ``IMPORT_MAX_ERRORS`` listed; nothing is written."""
    limit = tabular.ImportLimits.from_settings().max_errors
    first = errors[0]
    raise Unprocessable(
        f"the CSV file is not valid: {len(errors)} error(s); first: line {first['line']}, "
        f"column {first['column']}: {first['message']}",
        code="invalid_manifest",
        details={"errors": errors[:limit], "errors_not_listed": max(0, len(errors) - limit)},
    )


def _decimal_units(text: str, places: int) -> int | None:
    """``text`` (a decimal with at most ``places`` decimals) × 10**places, exactly."""
    t = text.strip().replace(",", "")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", t):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        return None
    scaled = d.scaleb(places)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


# the shared reader's codes -> this endpoint's stable codes
_READER_CODES = {
    "invalid_import_encoding": "invalid_encoding",
    "invalid_import_file": "invalid_csv",
    "import_too_large": "file_too_large",
}


def _read(data: bytes, file_name: str) -> tabular.Table:
    """The CSV through the one shared reader (size, rows, columns, cell length capped)."""
    limits = tabular.ImportLimits.from_settings(max_bytes=MAX_BYTES, max_rows=MAX_ROWS)
    try:
        return tabular.read_table(
            file_name=file_name,
            data=data,
            formats=("csv",),
            file_format="csv",
            limits=limits,
            delimiters=",",
        )
    except ApplicationError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        code = _READER_CODES.get(exc.code, exc.code)
        if details.get("limit") == "rows":
            code = "batch_too_large"
        if details.get("reason") == "empty":
            code = "invalid_manifest"
        raise Unprocessable(exc.message, code=code, details=details) from exc


def parse(data: bytes, file_name: str = "manifest.csv") -> CsvManifest:
    if b"\x00" in data[: MAX_BYTES + 1]:
        raise Unprocessable("the file contains NUL bytes: not a CSV text", code="invalid_csv")
    table = _read(data, file_name)
    encoding = table.encoding
    header = table.header
    errors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    columns: dict[str, str] = {}
    for i, raw in enumerate(header):
        name = _norm(raw)
        if not name:
            continue
        if name in AMBIGUOUS:
            errors.append(
                {
                    "line": 1,
                    "column": raw.strip(),
                    "message": "name the unit: 重量(克) / weight_g or 重量(kg) / weight_kg",
                }
            )
            continue
        key = HEADERS.get(name)
        if key is None:
            continue  # extra columns of a carrier's export are ignored
        if key in index:
            errors.append({"line": 1, "column": raw.strip(), "message": "repeated column"})
            continue
        index[key] = i
        columns[key] = raw.strip()
    for key in REQUIRED:
        if key not in index:
            errors.append({"line": 1, "column": key, "message": "missing column"})
    if "weight_g" not in index and "weight_kg" not in index:
        errors.append(
            {"line": 1, "column": "weight_g", "message": "missing column (重量(克) or 重量(kg))"}
        )
    if "weight_g" in index and "weight_kg" in index:
        errors.append({"line": 1, "column": columns["weight_kg"], "message": "two weight columns"})
    if "cod_yuan" in index and "cod_fen" in index:
        errors.append({"line": 1, "column": columns["cod_fen"], "message": "two COD columns"})
    if errors:
        _fail(errors)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for line, record in table.rows:

        def cell(key: str, record: list[str] = record) -> str:
            i = index.get(key)
            return record[i].strip() if i is not None and i < len(record) else ""

        row: dict[str, Any] = {
            k: cell(k) for k in ("tracking_number", "recipient_name", "phone", "village_code")
        }
        row["size_class"] = cell("size_class").upper() or "S"
        if "weight_kg" in index:
            grams = _decimal_units(cell("weight_kg"), 3)
            if grams is None:
                errors.append(
                    {
                        "line": line,
                        "column": columns["weight_kg"],
                        "message": "kilograms, a number with at most 3 decimals",
                    }
                )
            row["weight_g"] = grams
            columns.setdefault("weight_g", columns["weight_kg"])
        else:
            row["weight_g"] = cell("weight_g")
        if "cod_yuan" in index and cell("cod_yuan"):
            fen = _decimal_units(cell("cod_yuan"), 2)
            if fen is None:
                errors.append(
                    {
                        "line": line,
                        "column": columns["cod_yuan"],
                        "message": "yuan, a number with at most 2 decimals",
                    }
                )
            row["cod_fen"] = fen or 0
            columns.setdefault("cod_fen", columns["cod_yuan"])
        else:
            row["cod_fen"] = cell("cod_fen") or 0
        rows.append(row)
        lines.append(line)
    if errors:
        _fail(errors)
    if not rows:
        raise Unprocessable("the file has no data rows", code="invalid_manifest")
    return CsvManifest(rows=rows, lines=lines, columns=columns, encoding=encoding)


def manifest_csv_intake(
    *, scope: RegionScope, carrier_code: str, data: bytes, actor: Any = None
) -> services.ManifestResult:
    """Parse the CSV and hand it to ``manifest_intake``; its row errors are reported
    with the CSV line and column."""
    parsed = parse(data)
    try:
        return services.manifest_intake(
            scope=scope, carrier_code=carrier_code, rows=parsed.rows, actor=actor
        )
    except ApplicationError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        row_errors = details.get("errors") or []
        if not row_errors:
            raise
        mapped = []
        for e in row_errors:
            row = e.get("row")
            line = (
                parsed.lines[row - 1]
                if isinstance(row, int) and 0 < row <= len(parsed.lines)
                else row
            )
            fld = str(e.get("field", ""))
            mapped.append(
                {"line": line, "column": parsed.columns.get(fld, fld), "message": e.get("message")}
            )
        _fail(mapped)
        raise  # pragma: no cover - _fail always raises
