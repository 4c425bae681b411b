"""Import of the administrative region tree from the NBS data the project ships.

``regions_import`` reads ``data/cn`` (see ``data/cn/README.upstream.md``):

* ``nbs2023/{provinces,cities,areas,streets}.csv`` and ``nbs2023/villages.csv.gz``
  — five levels keyed by the NBS statistical code (2, 4, 6, 9, 12 digits);
* ``coords/county_points_nbs2023.csv`` and ``coords/vonng_adcode_2016_centres.csv``
  — county-seat and township points (GCJ-02);
* ``poverty/poverty_counties_832.csv`` — the 832 national poverty counties;
* ``crosswalk/areacodes_result.csv`` — former codes and names (aliases).

How it works, and why it is fast and all-or-nothing:

1. Every file is read and validated row by row (header, column count, digit
   codes of the right length, parent present, UTF-8, complete gzip). A problem
   raises :class:`ApplicationError` naming the file, row (the line number in
   the file, the header being row 1) and column.
2. While reading, the rows go to a temporary staging table (``COPY`` on
   PostgreSQL, ``executemany`` in batches on SQLite); villages are streamed, so
   memory stays small.
3. Only when everything is valid, three set-based statements apply the
   difference to ``network_region``: insert new codes, update changed rows
   (renames, moves, kinds, coordinates, poverty status), mark codes missing
   from the file as withdrawn (``withdrawn_in = <data version>``; rows are never
   deleted). Then the aliases are synchronised.

Everything runs in one transaction: any error leaves the database unchanged.
Re-running with the same files changes nothing. ``data_version`` is written
on the rows a run creates or changes (the version that last changed a row).
A synthetic point set elsewhere is kept when the data has no real one.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import re
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import code_successor, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import CoordSource, Kind, Level, Region, RegionAlias

DEFAULT_DATA_VERSION = "nbs2023"

PLACEHOLDER_PREFECTURES = frozenset(
    {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
)

# file -> (required columns, code column, code length, parent column, parent length)
_NBS_FILES: dict[str, tuple[tuple[str, ...], str, int, str | None, int]] = {
    "provinces": (("code", "name"), "code", 2, None, 0),
    "cities": (("code", "name", "provinceCode"), "code", 4, "provinceCode", 2),
    "areas": (("code", "name", "cityCode", "provinceCode"), "code", 6, "cityCode", 4),
    "streets": (
        ("code", "name", "areaCode", "provinceCode", "cityCode"),
        "code",
        9,
        "areaCode",
        6,
    ),
    "villages": (
        ("code", "name", "streetCode", "provinceCode", "cityCode", "areaCode"),
        "code",
        12,
        "streetCode",
        9,
    ),
}

STAGE_COLUMNS = (
    "code",
    "name",
    "level",
    "kind",
    "parent_id",
    "longitude",
    "latitude",
    "coord_source",
    "is_poverty_county",
    "poverty_exit_year",
)

_SQLITE_BATCH = 10_000

CODE_LEVEL: dict[int, int] = {
    2: int(Level.PROVINCE),
    4: int(Level.PREFECTURE),
    6: int(Level.COUNTY),
    9: int(Level.TOWNSHIP),
    12: int(Level.VILLAGE),
}


@dataclass
class ImportReport:
    data_version: str
    provinces: list[str]
    rows_in_files: dict[str, int] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    aliases_created: int = 0
    aliases_updated: int = 0
    aliases_deleted: int = 0
    aliases_total: int = 0
    county_points: int = 0
    township_points: int = 0
    poverty_counties: int = 0
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows_in_files.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_rows"] = self.total_rows
        return data


# ---------------------------------------------------------------------------
# Reading and validating files
# ---------------------------------------------------------------------------


def _fail(path: Path, row: int | None, column: str | None, problem: str, value: Any = None):
    where = path.name if path.parent.name == "" else f"{path.parent.name}/{path.name}"
    parts = [where]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    details: dict[str, Any] = {"file": str(path), "row": row, "column": column}
    if value is not None:
        details["value"] = str(value)[:80]
    raise ApplicationError(
        f"{', '.join(parts)}: {problem}", code="region_data_invalid", details=details
    )


class _CsvFile:
    """Rows of a UTF-8 CSV (optionally gzip) file with exact row numbers in errors.

    Lines are decoded one by one, so a GBK (or any non-UTF-8) file fails at the
    first line that is not valid UTF-8, naming that row.
    """

    def __init__(self, path: Path, required: Iterable[str]) -> None:
        self.path = path
        self.required = tuple(required)
        self.bytes_read = 0
        self.size = path.stat().st_size if path.exists() else 0
        self.header: list[str] = []
        self.index: dict[str, int] = {}
        self.on_progress: Any = None  # called with bytes read (compressed), now and then

    def col(self, name: str) -> int:
        return self.index[name]

    def _raw_lines(self) -> Iterator[bytes]:
        if not self.path.exists():
            _fail(self.path, None, None, "file not found")
        try:
            with open(self.path, "rb") as raw:
                if self.path.suffix == ".gz":
                    with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                        for line in gz:
                            self.bytes_read = raw.tell()
                            yield line
                else:
                    for line in raw:
                        self.bytes_read += len(line)
                        yield line
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            _fail(self.path, None, None, f"damaged or truncated gzip file ({exc})")

    def rows(self, *, prefixes: tuple[bytes, ...] | None = None) -> Iterator[tuple[int, list[str]]]:
        """(row number, fields) for each data row; ``prefixes`` skips other lines cheaply."""
        lineno = 0
        for raw in self._raw_lines():
            lineno += 1
            if self.on_progress is not None and lineno % 16384 == 0:
                self.on_progress(self.bytes_read)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                _fail(
                    self.path,
                    lineno,
                    None,
                    f"not UTF-8 (byte {exc.start + 1} of the line; is it GBK?): "
                    "save the file as UTF-8",
                )
            if lineno == 1:
                self._read_header(text)
                continue
            if prefixes is not None and not raw.startswith(prefixes):
                continue
            if not text.strip():
                continue
            fields = next(csv.reader([text]))
            if len(fields) != len(self.header):
                _fail(
                    self.path,
                    lineno,
                    None,
                    f"expected {len(self.header)} columns, found {len(fields)}",
                )
            yield lineno, fields
        if lineno == 0:
            _fail(self.path, 1, None, "the file is empty (a header row is required)")

    def _read_header(self, text: str) -> None:
        header = [h.strip() for h in next(csv.reader([text.lstrip("\ufeff")]), [])]
        self.header = header
        self.index = {h: i for i, h in enumerate(header)}
        for name in self.required:
            if name not in self.index:
                _fail(
                    self.path,
                    1,
                    name,
                    f"missing column {name!r} in the header (found: {', '.join(header)})",
                )


def _check_code(path: Path, row: int, column: str, value: str, length: int) -> str:
    if len(value) != length or not is_ascii_digits(value):
        _fail(path, row, column, f"expected a {length}-digit code, found {value!r}", value)
    return value


def _parse_float(path: Path, row: int, column: str, value: str, lo: float, hi: float):
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        _fail(path, row, column, f"expected a number, found {value!r}", value)
    if not lo <= number <= hi:
        _fail(path, row, column, f"{number} is outside {lo}..{hi}", value)
    return number


# ---------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------


def prefecture_kind(name: str) -> str:
    return Kind.PLACEHOLDER if name in PLACEHOLDER_PREFECTURES else Kind.PREFECTURE


def county_kind(code: str, name: str, *, parent_is_placeholder: bool = False) -> str:
    """``PPCC7x`` are NBS statistical zones; otherwise the kind follows the name suffix."""
    if code[4] == "7":
        return Kind.ZONE
    if name.endswith("特区") or (name.endswith("林区") and parent_is_placeholder):
        return Kind.SPECIAL_DISTRICT
    if name.endswith("区"):
        return Kind.DISTRICT
    if name.endswith("县"):
        return Kind.COUNTY
    if name.endswith("市"):
        return Kind.COUNTY_CITY
    if name.endswith("旗"):
        return Kind.BANNER
    return Kind.COUNTY  # 西沙群岛, 大柴旦行政委员会 ...


def township_kind(code: str) -> str:
    ttt = int(code[6:9])
    if ttt < 100:
        return Kind.SUBDISTRICT
    if ttt < 200:
        return Kind.TOWN
    if ttt < 400:
        return Kind.TOWNSHIP
    return Kind.OTHER_TOWNSHIP


def village_kind(code: str) -> str:
    """001–199 居委会, 200–399 村委会; NBS 400–499 类似居委会, 500+ 类似村委会 (生活区)."""
    vvv = int(code[9:12])
    if vvv < 200 or 400 <= vvv < 500:
        return Kind.COMMUNITY
    return Kind.VILLAGE


def kind_for(code: str, name: str, *, parent_is_placeholder: bool = False) -> str:
    n = len(code)
    if n == 2:
        return Kind.PROVINCE
    if n == 4:
        return prefecture_kind(name)
    if n == 6:
        return county_kind(code, name, parent_is_placeholder=parent_is_placeholder)
    if n == 9:
        return township_kind(code)
    return village_kind(code)


# ---------------------------------------------------------------------------
# Reading the tree (levels 1-4 in memory, villages streamed)
# ---------------------------------------------------------------------------


@dataclass
class _Tree:
    provinces: dict[str, str] = field(default_factory=dict)  # all provinces in the file
    all_upper_codes: dict[str, str] = field(default_factory=dict)  # 2/4/6-digit, all provinces
    rows: list[list[Any]] = field(default_factory=list)  # staged rows of levels 1-4 (chosen)
    names: dict[str, str] = field(default_factory=dict)  # chosen codes of levels 1-4 -> name
    counts: dict[str, int] = field(default_factory=dict)


def _read_level(
    data_dir: Path,
    key: str,
    chosen: tuple[str, ...] | None,
    parents: dict[str, str] | None,
    tree: _Tree,
    placeholder_parents: set[str],
) -> dict[str, str]:
    required, code_col, length, parent_col, parent_len = _NBS_FILES[key]
    path = data_dir / "nbs2023" / f"{key}.csv"
    f = _CsvFile(path, required)
    out: dict[str, str] = {}
    for row, fields in f.rows():
        code = _check_code(path, row, code_col, fields[f.col(code_col)].strip(), length)
        name = fields[f.col("name")].strip()
        if not name or len(name) > 80:
            _fail(path, row, "name", "a name of 1 to 80 characters is required", name)
        parent = None
        if parent_col is not None:
            parent = _check_code(
                path, row, parent_col, fields[f.col(parent_col)].strip(), parent_len
            )
            if not code.startswith(parent):
                _fail(path, row, parent_col, f"code {code} does not start with {parent}", parent)
        if length <= 6:
            tree.all_upper_codes[code] = name
        if chosen is not None and code[:2] not in chosen:
            continue
        if parents is not None and parent not in parents:
            _fail(path, row, parent_col, f"parent code {parent} is not in the data", parent)
        if code in out:
            _fail(path, row, code_col, f"code {code} appears twice", code)
        out[code] = name
        kind = str(kind_for(code, name, parent_is_placeholder=parent in placeholder_parents))
        if kind == Kind.PLACEHOLDER:
            placeholder_parents.add(code)
        tree.rows.append(
            [code, name, CODE_LEVEL[length], kind, parent, None, None, "", False, None]
        )
    tree.names.update(out)
    tree.counts[key] = len(out)
    return out


def _read_upper_levels(data_dir: Path, provinces: list[str] | None) -> _Tree:
    tree = _Tree()
    path = data_dir / "nbs2023" / "provinces.csv"
    f = _CsvFile(path, _NBS_FILES["provinces"][0])
    for row, fields in f.rows():
        code = _check_code(path, row, "code", fields[f.col("code")].strip(), 2)
        tree.provinces[code] = fields[f.col("name")].strip()
    chosen: tuple[str, ...] | None = None
    if provinces is not None:
        unknown = [p for p in provinces if p not in tree.provinces]
        if unknown or not provinces:
            raise ApplicationError(
                f"unknown province code(s): {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(sorted(tree.provinces))}",
                code="unknown_province",
                details={"unknown": unknown},
            )
        chosen = tuple(sorted(set(provinces)))
    placeholder: set[str] = set()
    provs = _read_level(data_dir, "provinces", chosen, None, tree, placeholder)
    cities = _read_level(data_dir, "cities", chosen, provs, tree, placeholder)
    areas = _read_level(data_dir, "areas", chosen, cities, tree, placeholder)
    _read_level(data_dir, "streets", chosen, areas, tree, placeholder)
    return tree


# ---------------------------------------------------------------------------
# Coordinates and poverty
# ---------------------------------------------------------------------------

_STEM_RE = re.compile(r"(街道办事处|地区办事处|办事处|街道|民族乡|镇|乡|苏木)$")


def _stem(name: str) -> str:
    return _STEM_RE.sub("", name)


def _read_county_points(data_dir: Path, chosen: dict[str, str]) -> dict[str, tuple[float, float]]:
    path = data_dir / "coords" / "county_points_nbs2023.csv"
    f = _CsvFile(path, ("code", "longitude_gcj02", "latitude_gcj02"))
    out: dict[str, tuple[float, float]] = {}
    for row, fields in f.rows():
        code = _check_code(path, row, "code", fields[f.col("code")].strip(), 6)
        lon = _parse_float(path, row, "longitude_gcj02", fields[f.col("longitude_gcj02")], 70, 140)
        lat = _parse_float(path, row, "latitude_gcj02", fields[f.col("latitude_gcj02")], 0, 60)
        if code in chosen and lon is not None and lat is not None:
            out[code] = (lon, lat)
    return out


@dataclass
class _Vonng:
    towns_by_code: dict[str, tuple[str, float, float]]
    towns_by_county: dict[str, list[tuple[str, float, float]]]
    counties: dict[str, tuple[float, float]]


def _read_vonng(data_dir: Path, provinces: set[str]) -> _Vonng:
    """County and town points of the 2016 Amap capture (Vonng/adcode), for ``provinces``."""
    path = data_dir / "coords" / "vonng_adcode_2016_centres.csv"
    f = _CsvFile(path, ("code", "name", "level", "longitude", "latitude"))
    data = _Vonng({}, {}, {})
    prefixes = tuple(p.encode() for p in sorted(provinces))
    for row, fields in f.rows(prefixes=prefixes):
        level = fields[f.col("level")]
        if level not in ("town", "county"):
            continue
        code = _check_code(path, row, "code", fields[f.col("code")].strip(), 12)
        lon = _parse_float(path, row, "longitude", fields[f.col("longitude")], 70, 140)
        lat = _parse_float(path, row, "latitude", fields[f.col("latitude")], 0, 60)
        if lon is None or lat is None:
            continue
        if level == "county":
            data.counties[code[:6]] = (lon, lat)
            continue
        item = (fields[f.col("name")].strip(), lon, lat)
        data.towns_by_code[code[:9]] = item
        data.towns_by_county.setdefault(code[:6], []).append(item)
    return data


def _township_points(
    vonng: _Vonng,
    townships: dict[str, str],
    related_counties: dict[str, set[str]],
) -> dict[str, tuple[float, float]]:
    """Township points from the 2016 Amap capture (Vonng/adcode).

    1. same 9-digit code and the same name stem (镇/乡/街道 stripped);
    2. else a unique name (exact, then stem) among the 2016 towns of the same
       county or of the counties it was formed from (crosswalk), as for
       ``liupanshui/lps_townships_2023.csv``;
    3. else the same 9-digit code (a renamed unit).
    """
    by_code, by_county = vonng.towns_by_code, vonng.towns_by_county
    out: dict[str, tuple[float, float]] = {}
    pending: list[tuple[str, str]] = []
    for code, name in townships.items():
        hit = by_code.get(code)
        if hit is not None and _stem(hit[0]) == _stem(name):
            out[code] = (hit[1], hit[2])
        else:
            pending.append((code, name))
    for code, name in pending:
        county = code[:6]
        candidates: list[tuple[str, float, float]] = []
        for old in related_counties.get(county, {county}) | {county}:
            candidates.extend(by_county.get(old, ()))
        exact = [c for c in candidates if c[0] == name]
        stem = [c for c in candidates if _stem(c[0]) == _stem(name)]
        points = {(c[1], c[2]) for c in (exact or stem)}
        if len(points) == 1:
            out[code] = points.pop()
        elif code in by_code:
            hit = by_code[code]
            out[code] = (hit[1], hit[2])
    return out


def _read_poverty(data_dir: Path, chosen: dict[str, str]) -> dict[str, int | None]:
    path = data_dir / "poverty" / "poverty_counties_832.csv"
    f = _CsvFile(path, ("code_2023", "exit_year"))
    out: dict[str, int | None] = {}
    for row, fields in f.rows():
        code = _check_code(path, row, "code_2023", fields[f.col("code_2023")].strip(), 6)
        text = fields[f.col("exit_year")].strip()
        year: int | None = None
        if text:
            if not is_ascii_digits(text) or not 2000 <= int(text) <= 2030:
                _fail(path, row, "exit_year", f"expected a year, found {text!r}", text)
            year = int(text)
        if code in chosen:
            # 632803 茫崖市 appears twice (it absorbed 冷湖行委): keep the later exit.
            prev = out.get(code)
            out[code] = max(y for y in (prev, year) if y is not None) if (prev or year) else None
    return out


# ---------------------------------------------------------------------------
# Crosswalk (aliases)
# ---------------------------------------------------------------------------


def _tree_code(code6: str) -> str:
    """520000 -> 52, 520200 -> 5202, 520221 -> 520221."""
    if code6.endswith("0000"):
        return code6[:2]
    if code6.endswith("00"):
        return code6[:4]
    return code6


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class _Crosswalk:
    aliases: dict[tuple[str, str, str], tuple[int | None, int | None]]
    related_counties: dict[str, set[str]]  # current county -> former county codes


def _year(path: Path, row: int, column: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not is_ascii_digits(text) or not 1900 <= int(text) <= 2100:
        _fail(path, row, column, f"expected a year, found {text!r}", text)
    return int(text)


def _read_crosswalk(data_dir: Path, tree: _Tree) -> _Crosswalk:
    path = data_dir / "crosswalk" / "areacodes_result.csv"
    cols = ("代码", "名称", "级别", "状态", "启用时间", "变更/弃用时间", "新代码")
    f = _CsvFile(path, cols)
    current = tree.all_upper_codes
    rows: list[tuple[str, str, str, int | None, int | None, list[tuple[str, bool]]]] = []
    successors: dict[str, list[tuple[str, bool]]] = {}
    for row, fields in f.rows():
        code = _check_code(path, row, "代码", fields[f.col("代码")].strip(), 6)
        status = fields[f.col("状态")].strip()
        if status not in ("在用", "弃用", "变更"):
            _fail(path, row, "状态", f"expected 在用, 弃用 or 变更, found {status!r}", status)
        new: list[tuple[str, bool]] = []
        for part in fields[f.col("新代码")].split(";"):
            part = part.strip()
            if not part:
                continue
            bare = part.split("[", 1)[0]
            _check_code(path, row, "新代码", bare, 6)
            new.append((_tree_code(bare), "[" in part))
        start = _year(path, row, "启用时间", fields[f.col("启用时间")])
        end = _year(path, row, "变更/弃用时间", fields[f.col("变更/弃用时间")])
        name = fields[f.col("名称")].strip()
        rows.append((_tree_code(code), name, status, start, end, new))
        if status != "在用":
            successors.setdefault(_tree_code(code), []).extend(new)

    def targets(code: str, seen: frozenset[str]) -> list[str]:
        if code in current:
            return [code]
        out: list[str] = []
        for nxt, _partial in successors.get(code, ()):
            if nxt not in seen:
                for t in targets(nxt, seen | {nxt}):
                    if t not in out:
                        out.append(t)
        return out

    aliases: dict[tuple[str, str, str], tuple[int | None, int | None]] = {}
    related: dict[str, set[str]] = {}

    def add(code: str, name: str, region: str, start: int | None, end: int | None) -> None:
        key = (code, name, region)
        if key in aliases:
            a, b = aliases[key]
            start = min((y for y in (a, start) if y is not None), default=None)
            end = max((y for y in (b, end) if y is not None), default=None)
        aliases[key] = (start, end)

    for code, name, status, start, end, new in rows:
        for nxt, _partial in new:
            for t in targets(nxt, frozenset({code, nxt})):
                if len(t) == 6 and len(code) == 6 and t != code:
                    related.setdefault(t, set()).add(code)
        if status == "弃用" and code not in current:
            choices: list[tuple[int, int, int, str]] = []
            for order, (nxt, partial) in enumerate(new):
                for t in targets(nxt, frozenset({code, nxt})):
                    score = _common_prefix(name, current[t])
                    choices.append((-score, int(partial), order, t))
            if choices:
                best = min(choices)[3]
                if best in tree.names:
                    add(code, name, best, start, end)
        elif status == "变更" and code in current and name != current[code] and code in tree.names:
            add(code, name, code, start, end)
    return _Crosswalk(aliases=aliases, related_counties=related)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


class _Stage:
    """The temporary staging table, filled by COPY (PostgreSQL) or executemany."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.vendor = connection.vendor
        self.buffer: list[list[Any]] = []
        self.copy: Any = None
        self._copy_cm: Any = None
        self.count = 0
        cursor.execute("DROP TABLE IF EXISTS region_stage")
        if self.vendor == "postgresql":
            cursor.execute(
                "CREATE TEMP TABLE region_stage (code varchar(12) NOT NULL, "
                "name varchar(80) NOT NULL, level smallint NOT NULL, kind varchar(20) NOT NULL, "
                "parent_id varchar(12), longitude double precision, latitude double precision, "
                "coord_source varchar(10) NOT NULL, is_poverty_county boolean NOT NULL, "
                "poverty_exit_year smallint)"
            )
            self._copy_cm = cursor.copy(
                f"COPY region_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
            )
            self.copy = self._copy_cm.__enter__()
        else:
            cursor.execute(
                "CREATE TEMP TABLE region_stage (code TEXT PRIMARY KEY, name TEXT NOT NULL, "
                "level INTEGER NOT NULL, kind TEXT NOT NULL, parent_id TEXT, longitude REAL, "
                "latitude REAL, coord_source TEXT NOT NULL, is_poverty_county INTEGER NOT NULL, "
                "poverty_exit_year INTEGER) WITHOUT ROWID"
            )
            self.sql = (
                f"INSERT INTO region_stage ({', '.join(STAGE_COLUMNS)}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"
            )

    def write(self, row: list[Any]) -> None:
        self.count += 1
        if self.copy is not None:
            self.copy.write_row(row)
            return
        self.buffer.append(row)
        if len(self.buffer) >= _SQLITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.cursor.executemany(self.sql, self.buffer)
            self.buffer = []

    def close(self) -> None:
        if self._copy_cm is not None:
            self._copy_cm.__exit__(None, None, None)
            self._copy_cm = self.copy = None
            self.cursor.execute("ALTER TABLE region_stage ADD PRIMARY KEY (code)")
            self.cursor.execute("ANALYZE region_stage")
        self.flush()

    def abort(self) -> None:
        if self._copy_cm is not None:
            # The import is failing anyway; the transaction is rolled back next.
            with contextlib.suppress(Exception):
                self._copy_cm.__exit__(ApplicationError, ApplicationError("aborted"), None)
            self._copy_cm = self.copy = None


def _province_condition(column: str, chosen: tuple[str, ...] | None) -> tuple[str, list[str]]:
    if chosen is None:
        return "1 = 1", []
    parts, params = [], []
    for p in chosen:
        upper = code_successor(p)
        if upper is None:
            parts.append(f"{column} >= %s")
            params.append(p)
        else:
            parts.append(f"({column} >= %s AND {column} < %s)")
            params.extend([p, upper])
    return "(" + " OR ".join(parts) + ")", params


def _apply(cursor: Any, version: str, chosen: tuple[str, ...] | None, report: ImportReport):
    """Apply the staged rows. SQL is built from constants only; values go as parameters."""
    table = connection.ops.quote_name(Region._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    pg = connection.vendor == "postgresql"

    def differs(a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if pg else f"{a} IS NOT {b}"

    keep_synthetic = f"(s.coord_source = '' AND r.coord_source = '{CoordSource.SYNTHETIC}')"
    changed = " OR ".join(
        [
            differs("r.name", "s.name"),
            differs("r.level", "s.level"),
            differs("r.kind", "s.kind"),
            differs("r.parent_id", "s.parent_id"),
            differs("r.is_poverty_county", "s.is_poverty_county"),
            differs("r.poverty_exit_year", "s.poverty_exit_year"),
            "r.withdrawn_in <> ''",
            f"(NOT {keep_synthetic} AND ("
            + " OR ".join(
                [
                    differs("r.longitude", "s.longitude"),
                    differs("r.latitude", "s.latitude"),
                    differs("r.coord_source", "s.coord_source"),
                ]
            )
            + "))",
        ]
    )

    def coord(col: str) -> str:
        return f"CASE WHEN {keep_synthetic} THEN r.{col} ELSE s.{col} END"

    cursor.execute(
        f"UPDATE {table} AS r SET name = s.name, level = s.level, kind = s.kind, "  # noqa: S608
        f"parent_id = s.parent_id, is_poverty_county = s.is_poverty_county, "
        f"poverty_exit_year = s.poverty_exit_year, withdrawn_in = '', "
        f"longitude = {coord('longitude')}, latitude = {coord('latitude')}, "
        f"coord_source = {coord('coord_source')}, data_version = %s, updated_at = %s "
        f"FROM region_stage AS s WHERE r.code = s.code AND ({changed})",
        [version, now],
    )
    report.updated = max(cursor.rowcount, 0)

    cursor.execute(
        f"INSERT INTO {table} ({', '.join(STAGE_COLUMNS)}, data_version, withdrawn_in, "  # noqa: S608
        f"created_at, updated_at) SELECT {', '.join('s.' + c for c in STAGE_COLUMNS)}, "
        f"%s, '', %s, %s FROM region_stage AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS r WHERE r.code = s.code) ORDER BY s.code",
        [version, now, now],
    )
    report.created = max(cursor.rowcount, 0)

    where, params = _province_condition("code", chosen)
    cursor.execute(
        f"UPDATE {table} SET withdrawn_in = %s, updated_at = %s "  # noqa: S608
        f"WHERE {where} AND withdrawn_in = '' "
        f"AND NOT EXISTS (SELECT 1 FROM region_stage AS s WHERE s.code = {table}.code)",
        [version, now, *params],
    )
    report.withdrawn = max(cursor.rowcount, 0)
    report.unchanged = report.total_rows - report.created - report.updated
    cursor.execute("DROP TABLE IF EXISTS region_stage")


def _sync_aliases(
    aliases: dict[tuple[str, str, str], tuple[int | None, int | None]],
    chosen: tuple[str, ...] | None,
    report: ImportReport,
) -> None:
    existing = RegionAlias.objects.filter(source="areacodes")
    if chosen is not None:
        q = Q()
        for p in chosen:
            q |= prefix_q("region_id", p)
        existing = existing.filter(q)
    seen: set[tuple[str, str, str]] = set()
    to_update: list[RegionAlias] = []
    to_delete: list[int] = []
    for alias in existing:
        key = (alias.code, alias.name, alias.region_id)
        if key not in aliases or key in seen:
            to_delete.append(alias.pk)
            continue
        seen.add(key)
        start, end = aliases[key]
        if (alias.valid_from, alias.valid_until) != (start, end):
            alias.valid_from, alias.valid_until = start, end
            to_update.append(alias)
    new = [
        RegionAlias(
            code=code,
            name=name,
            region_id=region,
            valid_from=v[0],
            valid_until=v[1],
            source="areacodes",
        )
        for (code, name, region), v in sorted(aliases.items())
        if (code, name, region) not in seen
    ]
    RegionAlias.objects.bulk_create(new, batch_size=1000)
    RegionAlias.objects.bulk_update(to_update, ["valid_from", "valid_until"], batch_size=1000)
    RegionAlias.objects.filter(pk__in=to_delete).delete()
    report.aliases_created = len(new)
    report.aliases_updated = len(to_update)
    report.aliases_deleted = len(to_delete)
    report.aliases_total = len(aliases)


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def regions_import(
    *,
    provinces: list[str] | None,
    data_dir: Path,
    progress: bool = False,
    data_version: str = DEFAULT_DATA_VERSION,
) -> ImportReport:
    """Load (or refresh) the region tree of ``provinces`` (None = all) from ``data_dir/cn``.

    ``data_dir`` is the folder holding ``cn/`` (``settings.DATA_DIR``) or ``cn``
    itself. Raises ApplicationError naming file, row and column on bad data;
    nothing is written then.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    if (data_dir / "cn" / "nbs2023").is_dir():
        data_dir = data_dir / "cn"
    if not (data_dir / "nbs2023").is_dir():
        raise ApplicationError(
            f"{data_dir}: no nbs2023/ folder (expected the region data, see DATA_SOURCES.md)",
            code="region_data_missing",
            details={"data_dir": str(data_dir)},
        )
    version = (data_version or "").strip()
    if not version or len(version) > 20:
        raise ApplicationError(
            "the data version must be 1 to 20 characters", code="invalid_data_version"
        )
    if provinces is not None:
        provinces = [p.strip() for p in provinces if p.strip()]

    villages_path = data_dir / "nbs2023" / "villages.csv.gz"
    bar = tqdm(
        total=villages_path.stat().st_size if villages_path.exists() else None,
        desc="regions",
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
    )
    try:
        with transaction.atomic():
            report = _import(data_dir, provinces, version, bar)
    finally:
        bar.close()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _import(data_dir: Path, provinces: list[str] | None, version: str, bar: Any) -> ImportReport:
    bar.set_description("regions: reading provinces to townships")
    tree = _read_upper_levels(data_dir, provinces)
    chosen = tuple(sorted(set(provinces))) if provinces is not None else None
    report = ImportReport(
        data_version=version, provinces=list(chosen) if chosen else sorted(tree.provinces)
    )
    counties = {c: n for c, n in tree.names.items() if len(c) == 6}
    townships = {c: n for c, n in tree.names.items() if len(c) == 9}
    crosswalk = _read_crosswalk(data_dir, tree)
    county_points = _read_county_points(data_dir, counties)
    vonng = _read_vonng(data_dir, {c[:2] for c in counties})
    # A county with no point of its own (e.g. 520204 水城区) takes the 2016 point of
    # the unit it replaced (520221 水城县), when exactly one former code maps to it.
    predecessors: dict[str, set[str]] = {}
    for old, _name, region in crosswalk.aliases:
        if len(old) == 6 and old != region and region in counties:
            predecessors.setdefault(region, set()).add(old)
    for code in counties:
        olds = predecessors.get(code, set())
        if code not in county_points and len(olds) == 1 and next(iter(olds)) in vonng.counties:
            county_points[code] = vonng.counties[next(iter(olds))]
    township_points = _township_points(vonng, townships, crosswalk.related_counties)
    poverty = _read_poverty(data_dir, counties)
    report.county_points = len(county_points)
    report.township_points = len(township_points)
    report.poverty_counties = len(poverty)

    with connection.cursor() as cursor:
        stage = _Stage(cursor)
        try:
            for r in tree.rows:
                code = r[0]
                point = county_points.get(code) or township_points.get(code)
                if point is not None:
                    r[5], r[6], r[7] = point[0], point[1], CoordSource.REAL.value
                if code in poverty:
                    r[8], r[9] = True, poverty[code]
                stage.write(r)
            tree.rows = []
            villages = _stream_villages(data_dir, chosen, townships, stage, bar)
            stage.close()
        except BaseException:
            stage.abort()
            raise
        report.rows_in_files = {**tree.counts, "villages": villages}
        bar.set_description("regions: writing")
        _apply(cursor, version, chosen, report)
    _sync_aliases(crosswalk.aliases, chosen, report)
    audit_record(
        action="import",
        object_type="network.region",
        object_id=version,
        object_repr=f"regions {','.join(report.provinces)}",
        after={
            k: v
            for k, v in report.as_dict().items()
            if k not in ("provinces", "seconds", "rows_in_files")
        },
        note=f"regions import {version}: provinces {','.join(report.provinces)}",
    )
    return report


def _stream_villages(
    data_dir: Path,
    chosen: tuple[str, ...] | None,
    townships: dict[str, str],
    stage: _Stage,
    bar: Any,
) -> int:
    path = data_dir / "nbs2023" / "villages.csv.gz"
    f = _CsvFile(path, _NBS_FILES["villages"][0])
    bar.set_description("regions: villages")
    done = [0]

    def advance(nbytes: int) -> None:
        bar.update(nbytes - done[0])
        done[0] = nbytes

    f.on_progress = advance
    prefixes = tuple(p.encode() for p in chosen) if chosen is not None else None
    seen: set[str] = set()
    village_kind_cache: dict[str, str] = {}
    n = 0
    code_i = name_i = street_i = 0
    for row, fields in f.rows(prefixes=prefixes):
        if n == 0:
            code_i, name_i, street_i = f.col("code"), f.col("name"), f.col("streetCode")
        code = fields[code_i]
        street = fields[street_i]
        if len(code) != 12 or not is_ascii_digits(code):
            _check_code(path, row, "code", code.strip(), 12)
            code = code.strip()
        if street not in townships:
            _check_code(path, row, "streetCode", street.strip(), 9)
            _fail(path, row, "streetCode", f"parent code {street} is not in the data", street)
        if not code.startswith(street):
            _fail(path, row, "streetCode", f"code {code} does not start with {street}", street)
        if code in seen:
            _fail(path, row, "code", f"code {code} appears twice", code)
        seen.add(code)
        name = fields[name_i].strip()
        if not name or len(name) > 80:
            _fail(path, row, "name", "a name of 1 to 80 characters is required", name)
        vvv = code[9:]
        kind = village_kind_cache.get(vvv)
        if kind is None:
            kind = village_kind_cache[vvv] = str(village_kind(code))
        stage.write([code, name, CODE_LEVEL[12], kind, street, None, None, "", False, None])
        n += 1
    advance(f.bytes_read)
    return n
