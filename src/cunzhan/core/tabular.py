"""Spreadsheets in and out: the ONE reader every CSV/XLSX import uses and the ONE writer
every CSV/XLSX export uses (docs/adr/0026-hostile-files-in-safe-files-out.md).

Reading (``read_table``) treats every upload as hostile:

- the size is capped before anything is parsed (``settings.IMPORT_MAX_BYTES``);
- an XLSX is a zip: its members and their unpacked sizes are capped
  (``IMPORT_MAX_UNPACKED_BYTES``) before any XML is read, and every XML part is first
  streamed through a defused SAX parser that refuses any DTD (XXE, billion laughs) and
  counts rows, cells per row and characters per cell without building anything; only a
  file inside every limit is handed to openpyxl (which itself parses through defusedxml);
- the sheet's ``<dimension>`` tag is ignored (``reset_dimensions``): rows are the rows
  the sheet really has;
- rows, columns and characters per cell are capped (``IMPORT_MAX_ROWS``,
  ``IMPORT_MAX_COLUMNS``, ``IMPORT_MAX_CELL_CHARS``); an importer caps the problems it
  stores with ``IMPORT_MAX_ERRORS`` (see :class:`ErrorList`).

Every refusal is an :class:`ApplicationError` naming the file and what is wrong; nothing
here writes. Importers validate every row and write nothing when any row is bad.

Writing (``csv_rows``, ``csv_bytes``, ``xlsx_write``) escapes every text cell that a
spreadsheet program would read as a formula (OWASP "CSV injection"): a string starting
with ``= + - @``, a tab or a carriage return gets a leading apostrophe. Numbers stay
numbers. ``tests/core/test_tabular.py`` fails if a module under ``src/`` writes CSV or
XLSX any other way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

from django.conf import settings
from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError
from cunzhan.core.validation import is_ascii_digits

# --- limits ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_unpacked_bytes: int
    max_rows: int  # data rows, the header not counted
    max_columns: int
    max_cell_chars: int
    max_errors: int

    @classmethod
    def from_settings(cls, **overrides: int) -> ImportLimits:
        limits = cls(
            max_bytes=settings.IMPORT_MAX_BYTES,
            max_unpacked_bytes=settings.IMPORT_MAX_UNPACKED_BYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
            max_columns=settings.IMPORT_MAX_COLUMNS,
            max_cell_chars=settings.IMPORT_MAX_CELL_CHARS,
            max_errors=settings.IMPORT_MAX_ERRORS,
        )
        # an importer may be stricter than the settings, never looser
        return replace(limits, **{k: min(v, getattr(limits, k)) for k, v in overrides.items() if v})


# Excel's own sheet size: a row or column beyond it is not a spreadsheet
EXCEL_MAX_ROW = 1_048_576
EXCEL_MAX_COLUMN = 16_384
# zip members beside the sheets and shared strings (styles, workbook, relationships)
MAX_OTHER_PART_BYTES = 8 * 1024 * 1024
MAX_ZIP_MEMBERS = 500


def read_upload(upload: Any, limits: ImportLimits | None = None) -> bytes:
    """At most ``max_bytes + 1`` bytes of an uploaded file: enough for ``read_table`` to
    say the file is too large, never the whole of a huge upload in memory."""
    limits = limits or ImportLimits.from_settings()
    data = upload.read(limits.max_bytes + 1)
    return bytes(data)


# --- reading --------------------------------------------------------------------------------------


@dataclass
class Table:
    file_format: str  # "csv" | "xlsx"
    encoding: str  # the CSV's encoding; "" for XLSX
    header: list[str]
    header_row: int
    rows: list[tuple[int, list[str]]]  # (row number as the user sees it, cells)
    # XLSX numeric cells of 12 or more digits, (row, column index): an ID number or a
    # code typed as a number, whose last digits the spreadsheet may already have lost
    big_numbers: set[tuple[int, int]] = field(default_factory=set)


def file_error(file_name: str, message: str, code: str, **details: Any) -> ApplicationError:
    return ApplicationError(
        _("文件“%(f)s”：%(m)s") % {"f": file_name, "m": message},
        code=code,
        details={"file": file_name, **details},
    )


def _too_large(file_name: str, message: str, limit: str, **details: Any) -> ApplicationError:
    return file_error(file_name, message, "import_too_large", limit=limit, **details)


def decode_csv(data: bytes, file_name: str) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 (BOM or not) first, then GB18030 (a superset of GBK,
    what Excel writes on a Chinese Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise file_error(
            file_name,
            _("文件是 UTF-16 编码，请另存为 UTF-8 或 GBK 编码的 CSV"),
            "invalid_import_encoding",
        )
    else:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            pass
    raise file_error(
        file_name,
        _("无法识别文件编码，请使用 UTF-8 或 GBK 编码的 CSV 文件"),
        "invalid_import_encoding",
    )


class _Rows:
    """Collects rows and enforces the row, column and cell limits as they come."""

    def __init__(self, file_name: str, limits: ImportLimits) -> None:
        self.file_name = file_name
        self.limits = limits
        self.rows: list[tuple[int, list[str]]] = []

    def add(self, number: int, cells: list[str]) -> None:
        last = len(cells)
        while last and not cells[last - 1]:
            last -= 1
        if not last:
            return  # blank rows are skipped (their numbers still count)
        if last > self.limits.max_columns:
            raise _too_large(
                self.file_name,
                _("第%(r)d行有 %(n)d 列，超过上限 %(m)d 列")
                % {"r": number, "n": last, "m": self.limits.max_columns},
                "columns",
                row=number,
            )
        for col, text in enumerate(cells[:last]):
            if len(text) > self.limits.max_cell_chars:
                raise self.cell_too_long(number, col + 1)
        if len(self.rows) > self.limits.max_rows:  # the header plus max_rows rows so far
            raise self.too_many_rows()
        self.rows.append((number, cells[:last]))

    def cell_too_long(self, row: int, column: int) -> ApplicationError:
        return _too_large(
            self.file_name,
            _("第%(r)d行第%(c)d列的内容超过 %(m)d 个字符")
            % {"r": row, "c": column, "m": self.limits.max_cell_chars},
            "cell",
            row=row,
            column=column,
        )

    def too_many_rows(self) -> ApplicationError:
        return _too_large(
            self.file_name,
            _("数据行数超过上限 %(n)d 行") % {"n": self.limits.max_rows},
            "rows",
        )


def _read_csv(data: bytes, file_name: str, limits: ImportLimits, delimiters: str) -> Table:
    text, encoding = decode_csv(data, file_name)
    first_line = text.split("\n", 1)[0]
    delimiter = max(delimiters, key=first_line.count) if first_line else delimiters[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = _Rows(file_name, limits)
    try:
        for record in reader:
            out.add(reader.line_num, [c.strip() for c in record])
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise out.cell_too_long(reader.line_num + 1, 0) from exc
        raise file_error(
            file_name,
            _("第%(r)d行不是有效的 CSV") % {"r": reader.line_num + 1},
            "invalid_import_file",
            row=reader.line_num + 1,
        ) from exc
    return _table("csv", encoding, out.rows, set())


_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)$")


def _column_index(ref: str) -> int:
    m = _CELL_REF.match(ref or "")
    if not m:
        return 0
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - 64
    return n


class _Scan(ContentHandler):
    """A streaming pass over one XML part: no tree is built, only counters. Worksheets:
    rows with a value, cells per row, highest column, characters per cell; shared
    strings: characters per string."""

    def __init__(self, kind: str, file_name: str, limits: ImportLimits, rows: _Rows) -> None:
        super().__init__()
        self.kind = kind  # "sheet" | "strings" | "other"
        self.limits = limits
        self.rows = rows
        self.file_name = file_name
        self.row = 0
        self.row_cells = 0
        self.row_has_value = False
        self.value_rows = 0
        self.cell_chars = 0
        self.in_text = False
        self.strings = 0

    def startElement(self, name: str, attrs: Any) -> None:
        local = name.rsplit(":", 1)[-1]
        if self.kind == "sheet":
            if local == "row":
                r = attrs.get("r")
                self.row = int(r) if r and is_ascii_digits(r) else self.row + 1
                if self.row > EXCEL_MAX_ROW:
                    raise self.rows.too_many_rows()
                self.row_cells = 0
                self.row_has_value = False
            elif local == "c":
                self.row_cells += 1
                column = _column_index(attrs.get("r", "")) or self.row_cells
                if column > self.limits.max_columns or self.row_cells > self.limits.max_columns:
                    raise _too_large(
                        self.file_name,
                        _("第%(r)d行超过 %(m)d 列的上限")
                        % {"r": self.row, "m": self.limits.max_columns},
                        "columns",
                        row=self.row,
                    )
                self.cell_chars = 0
            elif local in ("v", "t", "f"):
                self.in_text = True
        elif self.kind == "strings":
            if local == "si":
                self.strings += 1
                self.cell_chars = 0
            elif local == "t":
                self.in_text = True

    def endElement(self, name: str) -> None:
        local = name.rsplit(":", 1)[-1]
        if local in ("v", "t", "f"):
            self.in_text = False
        if self.kind == "sheet" and local == "row" and self.row_has_value:
            self.value_rows += 1
            if self.value_rows > self.limits.max_rows + 1:
                raise self.rows.too_many_rows()

    def characters(self, content: str) -> None:
        if not self.in_text:
            return
        self.cell_chars += len(content)
        if self.kind == "sheet":
            self.row_has_value = True
            if self.cell_chars > self.limits.max_cell_chars:
                raise self.rows.cell_too_long(self.row, self.row_cells)
        elif self.kind == "strings" and self.cell_chars > self.limits.max_cell_chars:
            raise _too_large(
                self.file_name,
                _("一个单元格的内容超过 %(m)d 个字符") % {"m": self.limits.max_cell_chars},
                "cell",
            )


def _check_xlsx(data: bytes, file_name: str, limits: ImportLimits) -> None:
    """Refuse, before openpyxl sees it, any XLSX outside the limits or with a DTD."""
    from defusedxml import DefusedXmlException
    from defusedxml.sax import make_parser

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise file_error(
            file_name, _("不是有效的 XLSX 文件（无法打开）"), "invalid_import_file"
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise file_error(
                file_name, _("不是有效的 XLSX 文件（部件过多）"), "invalid_import_file"
            )
        total = 0
        for info in members:
            total += info.file_size
            other = not info.filename.startswith(("xl/worksheets/", "xl/sharedStrings"))
            if total > limits.max_unpacked_bytes or (
                other and info.file_size > MAX_OTHER_PART_BYTES
            ):
                raise _too_large(
                    file_name,
                    _("解压后超过 %(n)d MB 的上限")
                    % {"n": limits.max_unpacked_bytes // (1024 * 1024)},
                    "unpacked",
                )
        rows = _Rows(file_name, limits)
        for info in members:
            name = info.filename
            if not name.endswith((".xml", ".rels", ".vml")) or info.is_dir():
                continue
            kind = (
                "sheet"
                if name.startswith("xl/worksheets/")
                else "strings"
                if name.startswith("xl/sharedStrings")
                else "other"
            )
            parser = make_parser()
            parser.forbid_dtd = True
            parser.forbid_entities = True
            parser.forbid_external = True
            parser.setContentHandler(_Scan(kind, file_name, limits, rows))
            try:
                with archive.open(info) as src:
                    parser.parse(src)
            except ApplicationError:
                raise
            except DefusedXmlException as exc:
                raise file_error(
                    file_name,
                    _("文件中含有不允许的 XML 声明（DTD 或实体），已拒绝"),
                    "invalid_import_file",
                ) from exc
            except (SAXException, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise file_error(
                    file_name, _("不是有效的 XLSX 文件（内容损坏）"), "invalid_import_file"
                ) from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def _read_xlsx(data: bytes, file_name: str, limits: ImportLimits) -> Table:
    import openpyxl.xml
    from openpyxl import load_workbook

    if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
        raise file_error(file_name, _("服务器暂不能读取 XLSX 文件"), "invalid_import_file")
    _check_xlsx(data, file_name, limits)
    out = _Rows(file_name, limits)
    big: set[tuple[int, int]] = set()
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ApplicationError:
        raise
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise file_error(
            file_name, _("不是有效的 XLSX 文件（无法打开）"), "invalid_import_file"
        ) from exc
    try:
        if not wb.worksheets:
            raise file_error(file_name, _("文件里没有工作表"), "invalid_import_file")
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # type: ignore[union-attr] # read-only sheets have it
        rows = ws.iter_rows(max_col=limits.max_columns, values_only=True)
        for number, values in enumerate(rows, start=1):
            if number > EXCEL_MAX_ROW:
                raise out.too_many_rows()
            if not any(v is not None for v in values):
                continue
            cells = []
            for col, v in enumerate(values):
                if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) >= 1e11:
                    big.add((number, col))
                cells.append(_cell_text(v))
            out.add(number, cells)
    except ApplicationError:
        raise
    except Exception as exc:  # a sheet that only breaks when read
        raise file_error(
            file_name, _("不是有效的 XLSX 文件（内容损坏）"), "invalid_import_file"
        ) from exc
    finally:
        wb.close()
    return _table("xlsx", "", out.rows, big)


def _table(fmt: str, encoding: str, rows: list[tuple[int, list[str]]], big: set) -> Table:
    if not rows:
        return Table(fmt, encoding, [], 1, [], big)
    (header_row, header), data = rows[0], rows[1:]
    return Table(fmt, encoding, header, header_row, data, big)


def read_table(
    *,
    file_name: str,
    data: bytes,
    formats: Sequence[str] = ("csv", "xlsx"),
    limits: ImportLimits | None = None,
    delimiters: str = ",\t;",
    file_format: str | None = None,
) -> Table:
    """The first sheet (or the CSV) as a header and rows of text cells; ApplicationError
    naming the file for a file of the wrong type, too large, malformed or hostile. The
    format follows the file name's suffix unless ``file_format`` says it."""
    limits = limits or ImportLimits.from_settings()
    suffix = f".{file_format}" if file_format else PurePath(file_name or "").suffix.lower()
    if len(data) > limits.max_bytes:
        raise _too_large(
            file_name,
            _("文件过大（上限 %(n)s MB）") % {"n": _mb(limits.max_bytes)},
            "bytes",
        )
    if suffix == ".csv" and "csv" in formats:
        table = _read_csv(data, file_name, limits, delimiters)
    elif suffix in (".xlsx", ".xlsm") and "xlsx" in formats:
        table = _read_xlsx(data, file_name, limits)
    else:
        kinds = " / ".join(f".{f}" for f in formats)
        raise file_error(
            file_name,
            _("不支持的文件类型“%(s)s”，请上传 %(k)s 文件") % {"s": suffix or "?", "k": kinds},
            "invalid_import_file",
        )
    if not table.header:
        raise file_error(file_name, _("文件是空的"), "invalid_import_file", reason="empty")
    return table


def _mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 1 else f"{mb:.2f}"


class ErrorList:
    """The problems of an import, at most ``limit`` kept (each at most ``text_chars``
    long); ``rows`` holds every bad row number, listed or not."""

    def __init__(self, limit: int, text_chars: int = 300) -> None:
        self.limit = limit
        self.text_chars = text_chars
        self.items: list[dict[str, Any]] = []
        self.rows: set[int] = set()
        self.dropped = 0

    def add(self, row: int, **fields: Any) -> None:
        self.rows.add(row)
        if len(self.items) >= self.limit:
            self.dropped += 1
            return
        for key, value in fields.items():
            if isinstance(value, str) and len(value) > self.text_chars:
                fields[key] = value[: self.text_chars - 1] + "…"
        self.items.append({"row": row, **fields})

    def __len__(self) -> int:
        return len(self.items) + self.dropped

    def __bool__(self) -> bool:
        return bool(self.items) or bool(self.dropped)


# --- writing --------------------------------------------------------------------------------------

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """A text cell a spreadsheet would take for a formula gets a leading apostrophe
    (OWASP CSV injection); numbers, dates and empty cells are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return escape_cell(value)


def _escaped(row: Iterable[Any]) -> list[Any]:
    return [_csv_value(v) for v in row]


def csv_rows(
    header: Sequence[Any], rows: Iterable[Iterable[Any]], *, chunk: int = 500, bom: bool = True
) -> Iterator[str]:
    """The CSV text in chunks of ``chunk`` rows (for a streamed response), every cell
    escaped; a byte-order mark first so that Excel reads the Chinese (``bom``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(_escaped(header))
    pending = 0
    yield ("\ufeff" if bom else "") + buf.getvalue()
    buf.seek(0)
    buf.truncate()
    for row in rows:
        writer.writerow(_escaped(row))
        pending += 1
        if pending >= chunk:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            pending = 0
    if pending:
        yield buf.getvalue()


def csv_text(header: Sequence[Any], rows: Iterable[Iterable[Any]], *, bom: bool = True) -> str:
    return "".join(csv_rows(header, rows, bom=bom))


def csv_bytes(header: Sequence[Any], rows: Iterable[Iterable[Any]], *, bom: bool = True) -> bytes:
    return csv_text(header, rows, bom=bom).encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # local wall-clock time: Excel has no time zones
    return escape_cell(value)


def xlsx_write(
    out: Any, *, sheet: str, header: Sequence[Any], rows: Iterable[Iterable[Any]]
) -> None:
    """A one-sheet workbook through openpyxl's write-only mode (memory holds one row),
    every text cell escaped and stored as text, never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet[:31])

    def cells(row: Iterable[Any]) -> list[Any]:
        result = []
        for v in row:
            value = _xlsx_value(v)
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # never "f", whatever the text looks like
                result.append(cell)
            else:
                result.append(value)
        return result

    ws.append(cells(header))
    for row in rows:
        ws.append(cells(row))
    wb.save(out)
