"""Bulk import of the registry from CSV or XLSX: one row per person, with the
household's columns repeated on each member's row.

- The file is read by the one shared reader, ``core/tabular.py``: size, rows,
  columns and cell length capped, a hostile XLSX (DTD, entities, zip bomb) refused,
  the sheet's real extent read. Encoding (CSV): UTF-8 with or without BOM, else
  GBK/GB18030 (county offices send both); anything else is one clear error.
- Header: Chinese or English column names (see ``COLUMNS``); a missing required
  column or an unknown column is one error naming the file and the columns.
- Rows: every row is validated; problems are reported as
  ``{"row", "column", "problem"}`` with the row number the user sees in the
  spreadsheet (header = row 1), up to ``IMPORT_MAX_ERRORS`` problems, then "and N
  more". A file is written whole or not at all: when any row is bad, nothing is
  written and the report names every bad row.
- Re-import: a person is matched on the ID number's blind index, else on
  household + name + birth year, and updated instead of duplicated.
- Scope: a village outside the importer's scope is a row error, never a write.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from cunzhan.core import tabular
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError
from cunzhan.core.money import yuan_to_fen
from cunzhan.core.scope import RegionScope
from cunzhan.registry import idcard, services
from cunzhan.registry.models import (
    Household,
    ImportBatch,
    IncomeSource,
    Person,
    PovertyCause,
    Relation,
    Sex,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # the Chinese header written in templates and reports
    required: bool
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("village_code", "村代码", True, ("村级代码", "村委会代码", "village", "village code")),
    Column("household_number", "户编号", True, ("户号", "household", "household no")),
    Column("address", "地址", False, ("住址", "家庭住址")),
    Column("name", "姓名", True, ()),
    Column("sex", "性别", True, ("gender",)),
    Column("birth_year", "出生年份", False, ("出生年", "birth year")),
    Column("relation", "与户主关系", True, ("关系", "relation to head")),
    Column("phone", "电话", False, ("手机", "手机号", "联系电话", "mobile")),
    Column("id_number", "身份证号", False, ("身份证号码", "公民身份号码", "id", "id no")),
    Column("poverty_year_registered", "建档年份", False, ("建档立卡年份", "registered year")),
    Column("poverty_cause", "致贫原因", False, ("主要致贫原因", "main cause", "cause")),
    Column("poverty_year_exited", "脱贫年份", False, ("exit year", "exited year")),
    Column("income_year", "收入年份", False, ("year",)),
    Column("income_farming", "种养殖收入(元)", False, ("种养殖收入", "farming")),
    Column("income_wages", "工资性收入(元)", False, ("工资性收入", "wages")),
    Column(
        "income_business_ecommerce",
        "经营及电商收入(元)",
        False,
        ("经营及电商收入", "经营性收入", "business", "business ecommerce"),
    ),
    Column("income_transfers", "转移性收入(元)", False, ("转移性收入", "transfers")),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
INCOME_COLUMNS = {
    "income_farming": "farming",
    "income_wages": "wages",
    "income_business_ecommerce": "business_ecommerce",
    "income_transfers": "transfers",
}

SEX_VALUES = {"男": "male", "女": "female", "male": "male", "female": "female"}
SEX_VALUES |= {"m": "male", "f": "female", "1": "male", "2": "female"}
RELATION_VALUES = {
    "户主": "head", "本人": "head", "配偶": "spouse", "妻": "spouse", "妻子": "spouse",
    "夫": "spouse", "丈夫": "spouse", "子女": "child", "子": "child", "女": "child",
    "儿子": "child", "女儿": "child", "长子": "child", "长女": "child", "次子": "child",
    "次女": "child", "儿媳": "child_in_law", "女婿": "child_in_law", "儿媳/女婿": "child_in_law",
    "父母": "parent", "父亲": "parent", "母亲": "parent", "孙子女": "grandchild",
    "孙子": "grandchild", "孙女": "grandchild", "外孙子": "grandchild", "外孙女": "grandchild",
    "祖父母": "grandparent", "祖父": "grandparent", "祖母": "grandparent",
    "兄弟姐妹": "sibling", "兄": "sibling", "弟": "sibling", "姐": "sibling", "妹": "sibling",
    "其他": "other",
}  # fmt: skip
CAUSE_VALUES = {
    "因病": "illness", "因残": "disability", "缺劳力": "lack_of_labour",
    "缺技术": "skills", "缺资金": "capital", "缺土地": "land", "缺水": "water",
    "因学": "education", "其他": "other", "自身发展动力不足": "other",
}  # fmt: skip

# services' ``details.field`` -> import column key
FIELD_TO_COLUMN = {
    "village": "village_code",
    "number": "household_number",
    "name": "name",
    "sex": "sex",
    "birth_year": "birth_year",
    "relation": "relation",
    "phone": "phone",
    "id_number": "id_number",
    "year_registered": "poverty_year_registered",
    "main_cause": "poverty_cause",
    "year_exited": "poverty_year_exited",
    "year": "income_year",
    "amount_fen": "income_year",
}


def _norm_header(text: str) -> str:
    t = str(text or "").replace("\ufeff", "").strip().lower()
    t = t.replace("（", "(").replace("）", ")").replace("_", " ")
    return " ".join(t.split())


_HEADER_ALIASES: dict[str, str] = {}
for _c in COLUMNS:
    for _name in (_c.key, _c.key.replace("_", " "), _c.label, *_c.aliases):
        _HEADER_ALIASES[_norm_header(_name)] = _c.key
    _HEADER_ALIASES[_norm_header(_c.label.replace("(元)", ""))] = _c.key


def _file_error(file_name: str, message: str, code: str, **details: Any) -> ApplicationError:
    return tabular.file_error(file_name, message, code, **details)


def read_table(*, file_name: str, data: bytes) -> tabular.Table:
    """The file through the one shared reader (``core/tabular.py``): its size, rows,
    columns and cells within the import limits, a hostile XLSX refused."""
    return tabular.read_table(file_name=file_name, data=data, formats=("csv", "xlsx"))


def map_header(header: list[str], file_name: str) -> dict[int, str]:
    """``{column index: column key}``; ApplicationError naming every missing/unknown column."""
    mapping: dict[int, str] = {}
    unknown: list[str] = []
    duplicate: list[str] = []
    for i, raw in enumerate(header):
        norm = _norm_header(raw)
        if not norm:
            continue
        key = _HEADER_ALIASES.get(norm)
        if key is None:
            unknown.append(str(raw).strip())
        elif key in mapping.values():
            duplicate.append(str(raw).strip())
        else:
            mapping[i] = key
    missing = [c.label for c in COLUMNS if c.required and c.key not in mapping.values()]
    if missing or unknown or duplicate:
        parts = []
        if missing:
            parts.append(_("缺少必需的列：%(c)s") % {"c": "、".join(missing)})
        if unknown:
            parts.append(_("无法识别的列：%(c)s") % {"c": "、".join(unknown)})
        if duplicate:
            parts.append(_("重复的列：%(c)s") % {"c": "、".join(duplicate)})
        raise _file_error(
            file_name,
            _("表头有误（%(p)s）。") % {"p": "；".join(parts)}
            + _("可用的列：%(c)s") % {"c": "、".join(c.label for c in COLUMNS)},
            "invalid_import_header",
            missing=missing,
            unknown=unknown,
            duplicate=duplicate,
            expected=[c.label for c in COLUMNS],
        )
    return mapping


@dataclass
class RowData:
    row: int
    values: dict[str, str]
    sex: str = ""
    relation: str = ""
    cause: str = ""
    incomes: dict[str, int] = field(default_factory=dict)


ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")


@dataclass
class ImportReport:
    """The outcome of one import. Problems are kept up to ``IMPORT_MAX_ERRORS`` (each
    quoted text shortened); ``failed_rows`` holds every bad row, listed or not."""

    errors: tabular.ErrorList = field(
        default_factory=lambda: tabular.ErrorList(tabular.ImportLimits.from_settings().max_errors)
    )
    households_created: int = 0
    households_updated: int = 0
    persons_created: int = 0
    persons_updated: int = 0
    persons_unchanged: int = 0
    rows_imported: int = 0

    @property
    def failed_rows(self) -> set[int]:
        return self.errors.rows

    def add(self, row: int, column: str, problem: str) -> None:
        """Record a row error. A problem may quote a cell; anything shaped like an ID
        number in it is masked (a column mix-up must not put ID numbers in reports)."""
        problem = ID_LIKE.sub(lambda m: idcard.mask(m.group(0)), problem)
        self.errors.add(row, column=column, problem=problem)


class _RolledBack(Exception):
    """Raised inside the write transaction to undo a file with a bad row."""


COUNT_FIELDS = (
    "households_created",
    "households_updated",
    "persons_created",
    "persons_updated",
    "persons_unchanged",
)


class RegistryImporter:
    def __init__(self, *, scope: RegionScope, user: Any, file_name: str, data: bytes) -> None:
        self.scope = scope
        self.user = user
        self.file_name = PurePath(file_name or "upload").name[:200]
        self.data = data
        self.report = ImportReport()
        self.header_names: dict[str, str] = {}
        self._villages: dict[str, str | None] = {}

    # -- validation -------------------------------------------------------------

    def column_name(self, key: str) -> str:
        return self.header_names.get(key) or COLUMN_BY_KEY[key].label

    def _error(self, row: int, key: str, problem: str) -> None:
        self.report.add(row, self.column_name(key) if key else "", problem)

    def _village_problem(self, code: str) -> str | None:
        if code not in self._villages:
            try:
                services.village_for_write(scope=self.scope, village_code=code)
                self._villages[code] = None
            except ApplicationError as exc:
                self._villages[code] = exc.message
        return self._villages[code]

    def _validate_row(self, row: int, values: dict[str, str], big: set[str]) -> RowData | None:
        before = len(self.report.errors)
        d = RowData(row=row, values=values)
        nul = [key for key, value in values.items() if "\x00" in value]
        if nul:
            for key in nul:
                self._error(row, key, _("文本中含有不允许的控制字符"))
            return None
        for key in ("village_code", "household_number", "name", "sex", "relation"):
            if not values.get(key):
                self._error(row, key, _("不能为空"))
        if "id_number" in big:
            self._error(
                row,
                "id_number",
                _("身份证号被存成了数字，后几位可能已丢失；请把该列设为“文本”格式后重新填写"),
            )
        code = values.get("village_code", "")
        if code:
            problem = self._village_problem(code)
            if problem:
                self._error(row, "village_code", problem)
        sex = values.get("sex", "")
        if sex:
            d.sex = SEX_VALUES.get(sex.lower(), "")
            if not d.sex:
                self._error(row, "sex", _("“%(v)s”不是有效性别（男/女）") % {"v": sex})
        rel = values.get("relation", "")
        if rel:
            d.relation = RELATION_VALUES.get(rel, rel if rel in RELATION_VALUES.values() else "")
            if not d.relation:
                self._error(
                    row,
                    "relation",
                    _("“%(v)s”不是有效的与户主关系（如：户主、配偶、子女、父母、孙子女、其他）")
                    % {"v": rel},
                )
        for key in ("birth_year", "poverty_year_registered", "poverty_year_exited", "income_year"):
            if values.get(key):
                try:
                    services.clean_year(values[key], field_name=key)
                except ApplicationError as exc:
                    self._error(row, key, exc.message)
        cause = values.get("poverty_cause", "")
        if cause:
            d.cause = CAUSE_VALUES.get(cause, cause if cause in CAUSE_VALUES.values() else "")
            if not d.cause:
                self._error(
                    row,
                    "poverty_cause",
                    _("“%(v)s”不是有效的致贫原因（%(c)s）")
                    % {"v": cause, "c": "、".join(list(CAUSE_VALUES)[:9])},
                )
        has_poverty = any(
            values.get(k)
            for k in ("poverty_year_registered", "poverty_cause", "poverty_year_exited")
        )
        if has_poverty:
            for key in ("poverty_year_registered", "poverty_cause"):
                if not values.get(key):
                    self._error(row, key, _("填写了建档立卡信息时，此列不能为空"))
        for key, source in INCOME_COLUMNS.items():
            if values.get(key):
                try:
                    fen = yuan_to_fen(values[key])
                    if not 0 <= fen <= services.INCOME_MAX_FEN:
                        raise ApplicationError("out of range", code="invalid_amount")
                    d.incomes[source] = fen
                except ApplicationError:
                    self._error(row, key, _("“%(v)s”不是有效金额（元，非负）") % {"v": values[key]})
        if d.incomes and not values.get("income_year"):
            self._error(row, "income_year", _("填写了收入时，收入年份不能为空"))
        if len(self.report.errors) == before:
            try:
                services.person_validate(
                    name=values.get("name", ""),
                    sex=d.sex,
                    birth_year=values.get("birth_year") or None,
                    relation=d.relation,
                    phone=values.get("phone", ""),
                    id_number=values.get("id_number", ""),
                )
                if has_poverty:
                    services._poverty_validate(
                        values.get("poverty_year_registered"),
                        d.cause,
                        values.get("poverty_year_exited") or None,
                    )
            except ApplicationError as exc:
                self._error(row, self._column_for(exc), exc.message)
        return d if len(self.report.errors) == before else None

    def _column_for(self, exc: ApplicationError) -> str:
        f = exc.details.get("field") if isinstance(exc.details, dict) else None
        return FIELD_TO_COLUMN.get(str(f), "") if f else ""

    def _cross_rows(self, rows: list[RowData]) -> list[RowData]:
        """Rows of one household must agree on the household's columns; an ID number
        appears once in the file."""
        ok: list[RowData] = []
        first_of: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
        ids: dict[str, int] = {}
        household_keys = (
            "address",
            "poverty_year_registered",
            "poverty_cause",
            "poverty_year_exited",
            "income_year",
            *INCOME_COLUMNS,
        )
        for d in rows:
            before = len(self.report.errors)
            hh = (d.values["village_code"], d.values["household_number"])
            seen = first_of.setdefault(hh, {})
            for key in household_keys:
                v = d.values.get(key, "")
                if not v:
                    continue
                if key in seen and seen[key][1] != v:
                    self._error(
                        d.row,
                        key,
                        _("与第%(r)d行同一户的值“%(v)s”不一致")
                        % {"r": seen[key][0], "v": seen[key][1]},
                    )
            number = d.values.get("id_number", "")
            if number:
                norm = "".join(number.split()).upper()
                if norm in ids:
                    self._error(
                        d.row, "id_number", _("与第%(r)d行的身份证号重复") % {"r": ids[norm]}
                    )
                else:
                    ids[norm] = d.row
            if len(self.report.errors) == before:
                for key in household_keys:
                    if d.values.get(key) and key not in seen:
                        seen[key] = (d.row, d.values[key])
                ok.append(d)
        return ok

    # -- writing ----------------------------------------------------------------

    def _apply_row(self, d: RowData, households: dict[tuple[str, str], Household]) -> None:
        v = d.values
        key = (v["village_code"], v["household_number"])
        household = households.get(key)
        if household is None:
            household = Household.objects.filter(village_id=key[0], number=key[1]).first()
            if household is None:
                household = services.household_create(
                    scope=self.scope,
                    village_code=key[0],
                    number=key[1],
                    address=v.get("address", ""),
                    actor=self.user,
                )
                self.report.households_created += 1
            elif v.get("address") and v["address"] != household.address:
                services.household_update(
                    household=household, address=v["address"], actor=self.user
                )
                self.report.households_updated += 1
            households[key] = household
        number = v.get("id_number", "")
        person = None
        if number:
            parsed = "".join(number.split()).upper()
            person = Person.objects.filter(id_number_index=services.id_number_index(parsed)).first()
            if person is not None and person.household_id != household.pk:
                raise ApplicationError(
                    _("该身份证号已登记在其他户，请先核实"),
                    code="duplicate_id_number",
                    details={"field": "id_number"},
                )
        birth_year = v.get("birth_year") or None
        if person is None and birth_year:
            person = Person.objects.filter(
                household=household, name=" ".join(v["name"].split()), birth_year=int(birth_year)
            ).first()
        fields: dict[str, Any] = {
            "name": v["name"],
            "sex": d.sex,
            "relation": d.relation,
            "birth_year": birth_year,
            # an empty or missing phone cell keeps the number on record (like the address)
            "phone": v.get("phone") or (person.phone if person is not None else ""),
            "id_number": number,
        }
        if person is None:
            services.person_create(household=household, actor=self.user, **fields)
            self.report.persons_created += 1
        else:
            _p, changed = services.person_update(person=person, actor=self.user, **fields)
            if changed:
                self.report.persons_updated += 1
            else:
                self.report.persons_unchanged += 1
        if v.get("poverty_year_registered"):
            services.poverty_register(
                household=household,
                year_registered=v["poverty_year_registered"],
                main_cause=d.cause,
                year_exited=v.get("poverty_year_exited") or None,
                actor=self.user,
            )
        for source, fen in d.incomes.items():
            services.income_record_set(
                household=household,
                year=v["income_year"],
                source=source,
                amount_fen=fen,
                actor=self.user,
            )

    def run(self) -> ImportBatch:
        table = read_table(file_name=self.file_name, data=self.data)
        mapping = map_header(table.header, self.file_name)
        self.header_names = {key: str(table.header[i]).strip() for i, key in mapping.items()}
        valid: list[RowData] = []
        big_by_row: dict[int, set[str]] = {}
        for r, c in table.big_numbers:
            if c in mapping:
                big_by_row.setdefault(r, set()).add(mapping[c])
        for row, cells in table.rows:
            values = {
                key: (cells[i] if i < len(cells) else "").strip() for i, key in mapping.items()
            }
            d = self._validate_row(row, values, big_by_row.get(row, set()))
            if d is not None:
                valid.append(d)
        valid = self._cross_rows(valid)
        households: dict[tuple[str, str], Household] = {}
        with transaction.atomic():
            if not self.report.errors:
                self._write_all(valid, households)
            batch = self._save_batch(table)
        return batch

    def _write_all(self, valid: list[RowData], households: dict[tuple[str, str], Household]):
        """Write every row, or none: a row that fails on write (each in a savepoint, so the
        later rows are still tried and their problems reported) rolls the whole file back."""
        try:
            with transaction.atomic():
                for d in valid:
                    try:
                        with transaction.atomic():
                            self._apply_row(d, households)
                        self.report.rows_imported += 1
                    except ApplicationError as exc:
                        key = (d.values["village_code"], d.values["household_number"])
                        households.pop(key, None)
                        self._error(d.row, self._column_for(exc), exc.message)
                if self.report.errors:
                    raise _RolledBack
        except _RolledBack:
            for k in (*COUNT_FIELDS, "rows_imported"):
                setattr(self.report, k, 0)

    def _save_batch(self, table: tabular.Table) -> ImportBatch:
        r = self.report
        errors = sorted(r.errors.items, key=lambda e: (e["row"], e["column"]))
        batch = ImportBatch.objects.create(
            file_name=self.file_name,
            file_format=table.file_format,
            encoding=table.encoding,
            uploaded_by=self.user if getattr(self.user, "pk", None) else None,
            region_code=_scope_region(self.scope),
            rows_total=len(table.rows),
            rows_imported=r.rows_imported,
            rows_failed=len(r.failed_rows),
            households_created=r.households_created,
            households_updated=r.households_updated,
            persons_created=r.persons_created,
            persons_updated=r.persons_updated,
            persons_unchanged=r.persons_unchanged,
            errors=errors,
        )
        audit_record(
            action="import",
            object_type="registry.ImportBatch",
            object_id=batch.uuid,
            object_repr=batch.file_name,
            region_code=batch.region_code,
            after={
                "rows_total": batch.rows_total,
                "rows_imported": batch.rows_imported,
                "rows_failed": batch.rows_failed,
            },
            actor=self.user,
        )
        return batch


def _scope_region(scope: RegionScope) -> str:
    if scope.everything or not scope.prefixes:
        return ""
    return services._common_prefix(sorted(scope.prefixes))


def registry_import(*, scope: RegionScope, user: Any, file_name: str, data: bytes) -> ImportBatch:
    """Import a registry file; returns the batch with counts and row errors. Any bad row:
    nothing is written but the batch (its report). A file-level problem (type, size,
    encoding, header, a hostile file) raises ApplicationError and writes nothing."""
    return RegistryImporter(scope=scope, user=user, file_name=file_name, data=data).run()


EXAMPLE_HOUSEHOLD_NUMBER = "示例0001"
EXAMPLE_BIRTH = dt.date(1980, 1, 1)
EXAMPLE_SEQUENCE = 999  # odd: a man; the last sequence of the day, rarely issued


def example_row(village_code: str) -> dict[str, str]:
    """One row that passes validation as it stands: a fictional head of household in
    ``village_code`` with a demo ID number built by :func:`idcard.make_id_number`."""
    number = idcard.make_id_number(
        region=village_code[:6], birth_date=EXAMPLE_BIRTH, sequence=EXAMPLE_SEQUENCE
    )
    return {
        "village_code": village_code,
        "household_number": EXAMPLE_HOUSEHOLD_NUMBER,
        "address": "示例地址1组",
        "name": "示例户主",
        "sex": "男",
        "birth_year": str(EXAMPLE_BIRTH.year),
        "relation": "户主",
        "phone": "13800000000",
        "id_number": number,
        "poverty_year_registered": "2014",
        "poverty_cause": "因病",
        "poverty_year_exited": "2019",
        "income_year": "2023",
        "income_farming": "5200.50",
        "income_wages": "12000",
        "income_business_ecommerce": "0",
        "income_transfers": "1800",
    }


def template_csv(village_code: str | None = None) -> str:
    """The import file's header with every column and, given a village (the first in
    the importer's scope), one example row that imports as it stands. UTF-8 with BOM
    so that Excel shows the Chinese headers."""
    rows = []
    if village_code:
        row = example_row(village_code)
        rows.append([row.get(c.key, "") for c in COLUMNS])
    return tabular.csv_text([c.label for c in COLUMNS], rows)


def accepted_values() -> list[dict[str, Any]]:
    """For the import help: the values each coded column accepts, from the model choices
    (the Chinese label, as written in files, and the code), plus the other spellings the
    importer understands."""
    with translation.override("zh-hans"):
        rows = []
        for column, choices, aliases in (
            ("sex", Sex, SEX_VALUES),
            ("relation", Relation, RELATION_VALUES),
            ("poverty_cause", PovertyCause, CAUSE_VALUES),
        ):
            values = [
                {"label": str(label), "code": value, "display": label}
                for value, label in choices.choices
            ]
            labels = {v["label"] for v in values} | {v["code"] for v in values}
            extra = [a for a in aliases if a not in labels]
            rows.append({"column": COLUMN_BY_KEY[column].label, "values": values, "also": extra})
    return rows


def income_columns() -> list[dict[str, Any]]:
    """The income columns and the model's income source each fills."""
    labels = dict(IncomeSource.choices)
    return [
        {"column": COLUMN_BY_KEY[key].label, "code": source, "display": labels[source]}
        for key, source in INCOME_COLUMNS.items()
    ]


def report_csv(batch: ImportBatch) -> str:
    """The batch's row errors as CSV (UTF-8 with BOM so Excel shows Chinese)."""
    rows = [[e.get("row", ""), e.get("column", ""), e.get("problem", "")] for e in batch.errors]
    more = rows_not_listed(batch)
    if more:
        rows.append(["", "", _("另有 %(n)d 行有问题，未逐一列出") % {"n": more}])
    return tabular.csv_text([_("行号"), _("列"), _("问题")], rows)


def rows_not_listed(batch: ImportBatch) -> int:
    """Bad rows beyond the problems kept (``IMPORT_MAX_ERRORS``): the "and N more"."""
    listed = {e.get("row") for e in batch.errors}
    return max(0, batch.rows_failed - len(listed))
