from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.registry.importers import registry_import, report_csv
from cunzhan.registry.models import Household, IncomeRecord, Person, PovertyRegistration
from tests.factories.registry import id_number

pytestmark = pytest.mark.django_db
SCOPE = RegionScope.for_regions(["520204"])
HEADER = (
    "村代码,户编号,地址,姓名,性别,出生年份,与户主关系,电话,身份证号,"
    "建档年份,致贫原因,脱贫年份,收入年份,工资性收入(元)"
)


def _csv(rows, header=HEADER, encoding="utf-8"):
    return ("\n".join([header, *rows]) + "\n").encode(encoding)


def _good_rows():
    head = id_number(born=dt.date(1968, 2, 3), sex="male")
    wife = id_number(born=dt.date(1970, 7, 8), sex="female")
    return [
        f"520204106201,0001,海坪村1组,杨国强,男,1968,户主,13800000001,{head},2014,因病,2018,2023,25000",
        f"520204106201,0001,海坪村1组,王秀英,女,1970,配偶,,{wife},2014,因病,2018,2023,25000",
        "520204106201,0001,海坪村1组,杨小燕,女,2005,子女,,,2014,因病,2018,2023,25000",
        "520204106202,0002,玉舍村2组,龙飞,男,1975,户主,,,,,,,",
    ]


def test_valid_file_imports_everything(regions, make_user):
    user = make_user("registry_officer", regions=["520204"])
    batch = registry_import(scope=SCOPE, user=user, file_name="hh.csv", data=_csv(_good_rows()))
    assert batch.errors == []
    assert (batch.rows_total, batch.rows_imported, batch.rows_failed) == (4, 4, 0)
    assert (batch.households_created, batch.persons_created) == (2, 4)
    assert Household.objects.count() == 2 and Person.objects.count() == 4
    reg = PovertyRegistration.objects.get()
    assert (reg.year_registered, reg.main_cause, reg.year_exited) == (2014, "illness", 2018)
    assert IncomeRecord.objects.get().amount_fen == 2_500_000
    assert batch.encoding == "utf-8" and batch.file_format == "csv"
    assert AuditEvent.objects.filter(action="import", object_type="registry.ImportBatch").exists()


def test_reimport_creates_no_duplicates_and_updates(regions):
    rows = _good_rows()
    registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    rows[0] = rows[0].replace("13800000001", "13900000009")
    batch = registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    assert batch.errors == []
    assert (batch.persons_created, batch.persons_updated, batch.persons_unchanged) == (0, 1, 3)
    assert Household.objects.count() == 2 and Person.objects.count() == 4
    assert Person.objects.get(name="杨国强").phone == "13900000009"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_encodings(regions, encoding):
    batch = registry_import(
        scope=SCOPE, user=None, file_name="g.csv", data=_csv(_good_rows(), encoding=encoding)
    )
    assert batch.rows_imported == 4
    assert Person.objects.filter(name="王秀英").exists()


def test_undecodable_file_is_one_clear_error(regions):
    with pytest.raises(ApplicationError) as exc:
        registry_import(
            scope=SCOPE, user=None, file_name="bad.csv", data=b"\x81\x20\xff\xfe\x00" * 3
        )
    assert exc.value.code == "invalid_import_encoding"
    assert "bad.csv" in exc.value.message


def test_wrong_header_names_file_and_columns(regions):
    data = _csv(["x"], header="村代码,户编号,名字,性别,与户主关系,备注")
    with pytest.raises(ApplicationError) as exc:
        registry_import(scope=SCOPE, user=None, file_name="hdr.csv", data=data)
    err = exc.value
    assert err.code == "invalid_import_header"
    assert "hdr.csv" in err.message and "姓名" in err.message and "名字" in err.message
    assert err.details["missing"] == ["姓名"]
    assert set(err.details["unknown"]) == {"名字", "备注"}
    assert Household.objects.count() == 0


def test_bad_rows_reported_and_nothing_written(regions):
    good = _good_rows()
    rows = [
        *good,
        "520203101201,0009,,外县人,男,1980,户主,,,,,,,",  # outside scope
        "999999999999,0009,,无此村,男,1980,户主,,,,,,,",  # unknown village
        "520204106202,0003,,张三,未知,19x0,老板,,,,,,,",  # sex, year, relation
        f"520204106202,0004,,李四,男,1968,户主,,{good[0].split(',')[8]},,,,,",  # dup id in file
        "520204106202,0005,,赵六,男,1980,户主,,11010519491231002X,,,,,",  # year/sex vs id
        "520204106202,0006,,钱七,男,1980,户主,,110105194912310021,,,,,",  # check digit
        "520204106202,0007,,孙八,男,1980,户主,,,2016,,,,",  # cause missing
    ]
    batch = registry_import(scope=SCOPE, user=None, file_name="mixed.csv", data=_csv(rows))
    assert batch.rows_imported == 0  # a file is written whole or not at all
    assert Household.objects.count() == 0 and Person.objects.count() == 0
    by_row: dict[int, set[str]] = {}
    for e in batch.errors:
        by_row.setdefault(e["row"], set()).add(e["column"])
    assert by_row == {
        6: {"村代码"},
        7: {"村代码"},
        8: {"性别", "出生年份", "与户主关系"},
        9: {"身份证号"},
        10: {"出生年份"},
        11: {"身份证号"},
        12: {"致贫原因"},
    }
    assert batch.rows_failed == 7
    assert not Household.objects.filter(village_id="520203101201").exists()
    text = report_csv(batch)
    assert text.startswith("\ufeff") and "mixed" not in text and ",村代码," in text
    for e in batch.errors:  # the report never repeats an ID number
        assert "11010519491231002X" not in e["problem"]


def test_conflicting_household_columns(regions):
    rows = _good_rows()
    rows[1] = rows[1].replace("2014,因病", "2015,因病")
    batch = registry_import(scope=SCOPE, user=None, file_name="c.csv", data=_csv(rows))
    assert [(e["row"], e["column"]) for e in batch.errors] == [(3, "建档年份")]


def test_xlsx_import_and_numeric_id_column(regions):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    number = id_number(born=dt.date(1990, 1, 1), sex="male")
    ws.append(
        [
            "520204106201",
            "0001",
            "",
            "刘一",
            "男",
            1990,
            "户主",
            "",
            number,
            None,
            None,
            None,
            None,
            None,
        ]
    )
    ws.append(
        [
            "520204106201",
            "0001",
            "",
            "刘二",
            "女",
            1992,
            "配偶",
            "",
            520204199201010020,
            None,
            None,
            None,
            None,
            None,
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    batch = registry_import(scope=SCOPE, user=None, file_name="x.xlsx", data=buf.getvalue())
    assert batch.rows_imported == 0 and Person.objects.count() == 0
    assert batch.errors[0]["row"] == 3 and batch.errors[0]["column"] == "身份证号"
    assert "文本" in batch.errors[0]["problem"]


def test_broken_xlsx_and_unknown_type(regions):
    with pytest.raises(ApplicationError) as exc:
        registry_import(scope=SCOPE, user=None, file_name="x.xlsx", data=b"not a zip")
    assert exc.value.code == "invalid_import_file" and "x.xlsx" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        registry_import(scope=SCOPE, user=None, file_name="x.txt", data=b"a")
    assert exc.value.code == "invalid_import_file"


def test_a_reimport_with_an_empty_phone_keeps_the_phone_on_record(regions):
    rows = _good_rows()
    registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    rows[0] = rows[0].replace("13800000001", "")
    batch = registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    assert batch.errors == []
    assert Person.objects.get(name="杨国强").phone == "13800000001"


def test_an_absurd_amount_or_a_nul_is_a_row_error_not_a_crash(regions):
    rows = _good_rows()
    rows[3] = "520204106202,0002,玉舍村2组,龙飞,男,1975,户主,,,,,,2023,1e30"
    rows.append("520204106202,0003,玉舍村3组,龙\x00二,男,1976,户主,,,,,,,")
    batch = registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    problems = {(e["row"], e["column"]) for e in batch.errors}
    assert (5, "工资性收入(元)") in problems
    assert (6, "姓名") in problems
    assert batch.rows_imported == 0 and Household.objects.count() == 0
    assert not Household.objects.filter(number__in=["0002", "0003"]).exists()


def test_an_id_number_in_the_wrong_column_is_masked_in_the_report(regions):
    number = id_number(born=dt.date(1980, 5, 17), sex="male")
    rows = [f"520204106201,0001,海坪村1组,杨国强,男,1980,{number},,,,,,,"]
    batch = registry_import(scope=SCOPE, user=None, file_name="a.csv", data=_csv(rows))
    assert batch.errors and batch.errors[0]["column"] == "与户主关系"
    assert number not in str(batch.errors)
    assert number not in report_csv(batch)
    assert number[:2] + "*" in str(batch.errors)  # the masked form says what was typed
