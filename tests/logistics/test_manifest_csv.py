"""CSV manifests: encodings (UTF-8, BOM, GB18030), Chinese and English headers, kg and
yuan converted exactly, errors naming the CSV line and column, nothing written on any
error; the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.logistics import manifest_csv
from cunzhan.logistics.models import Parcel
from tests.logistics.conftest import BARE_VILLAGE, VILLAGE
from tests.logistics.updown_helpers import NATIONAL

ZH = "运单号,收件人,电话,村代码,重量(kg),尺寸,代收货款(元)\n"


def zh_csv(*lines: str) -> str:
    return ZH + "".join(line + "\n" for line in lines)


GOOD = zh_csv(
    f"ZT1000000001,张三,138 1234 5678,{VILLAGE},1.25,M,",
    f"ZT1000000002,李四,13912345678,{VILLAGE},0.3,S,19.9",
    f"ZT1000000003,王五,13712345678,{BARE_VILLAGE},12,XL,0.01",
)


def intake(text: str | bytes, carrier: str = "ZTO"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return manifest_csv.manifest_csv_intake(scope=NATIONAL, carrier_code=carrier, data=data)


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030"],
)
def test_encodings_chinese_headers_exact_units(station, encode):
    data = encode(GOOD)
    parsed = manifest_csv.parse(data)
    assert parsed.encoding in {"utf-8", "utf-8-sig", "gb18030"}
    result = intake(data)
    assert len(result.created) == 3 and result.unmatched == ["ZT1000000003"]
    got = {
        p.tracking_number: (p.recipient_name, p.weight_g, p.size_class, p.cod_fen)
        for p in Parcel.objects.all()
    }
    assert got == {
        "ZT1000000001": ("张三", 1250, "M", 0),
        "ZT1000000002": ("李四", 300, "S", 1990),
        "ZT1000000003": ("王五", 12000, "XL", 1),
    }
    again = intake(data)
    assert again.created == [] and len(again.duplicates) == 3


def test_gb18030_is_detected(station):
    assert manifest_csv.parse(GOOD.encode("gb18030")).encoding == "gb18030"
    assert manifest_csv.parse(b"\xef\xbb\xbf" + GOOD.encode()).encoding == "utf-8-sig"


def test_english_headers_grams_fen_and_extra_columns(station):
    text = (
        "Tracking_Number, recipient_name ,phone,village_code,weight_g,size_class,cod_fen,备注\n"
        f"YT1,赵六,13812345678,{VILLAGE},800,l,150,门口\n"
    ).replace("YT1", "YT00000001")
    result = intake(text, "yto")
    assert len(result.created) == 1
    p = Parcel.objects.get()
    assert (p.carrier.code, p.weight_g, p.size_class, p.cod_fen) == ("YTO", 800, "L", 150)


def _errors(text: str, carrier: str = "ZTO") -> list[dict]:
    with pytest.raises(ApplicationError) as e:
        intake(text, carrier)
    assert Parcel.objects.count() == 0  # nothing written
    return e.value.details["errors"]  # type: ignore[index]


def test_a_bad_line_names_line_and_column_and_writes_nothing(station):
    text = zh_csv(
        f"ZT2000000001,张三,13812345678,{VILLAGE},1.5,M,",
        "",  # blank lines are skipped but still counted
        f"ZT2000000002,李四,13912345678,{VILLAGE},1.2345,M,",
        f"ZT2000000003,王五,123,{VILLAGE},1,M,",
        f"ZT2000000004,赵六,13812345678,{VILLAGE},1,M,12.345",
    )
    errors = _errors(text)
    assert {"line": 4, "column": "重量(kg)", "message": errors[0]["message"]} == errors[0]
    assert (errors[1]["line"], errors[1]["column"]) == (6, "代收货款(元)")
    # row errors found by manifest_intake come back with the CSV line and column
    text = zh_csv(
        f"ZT2000000001,张三,13812345678,{VILLAGE},1.5,M,",
        f"ZT2000000003,王五,123,{VILLAGE},1,M,",
        f"ZT2000000005,钱七,13812345678,{VILLAGE},1,ZZ,",
        "ZT2000000006,孙八,13812345678,520204999999,1,S,",
    )
    errors = _errors(text)
    assert [(e["line"], e["column"]) for e in errors] == [
        (3, "电话"),
        (4, "尺寸"),
        (5, "村代码"),
    ]


@pytest.mark.parametrize(
    ("header", "column", "needle"),
    [
        ("运单号,收件人,电话,村代码,重量,尺寸", "重量", "unit"),
        ("运单号,收件人,电话,重量(克)", "village_code", "missing"),
        ("运单号,收件人,电话,村代码", "weight_g", "missing"),
        ("运单号,收件人,电话,村代码,重量(克),重量(kg)", "重量(kg)", "two weight"),
        ("运单号,单号,收件人,电话,村代码,重量(克)", "单号", "repeated"),
    ],
)
def test_bad_headers(station, header, column, needle):
    errors = _errors(header + "\nX,Y,Z\n")
    assert errors[0]["line"] == 1 and errors[0]["column"] == column
    assert needle in errors[0]["message"]


def test_bad_files(station):
    for data, code in (
        (b"", "invalid_manifest"),
        (ZH.encode(), "invalid_manifest"),
        (b"\x00\x01", "invalid_csv"),
        (b"\xff\xfe\x80\x80\xff", "invalid_encoding"),
    ):
        with pytest.raises(ApplicationError) as e:
            intake(data)
        assert e.value.code == code, data
    with pytest.raises(ApplicationError) as e:
        intake(GOOD, "NOPE")
    assert e.value.code == "unknown_carrier"
    assert Parcel.objects.count() == 0


def test_api_upload(station, make_user, api_client):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    c = api_client(manager)
    url = "/api/v1/logistics/manifests/csv"
    f = SimpleUploadedFile("m.csv", GOOD.encode("gb18030"), "text/csv")
    r = c.post(url, {"carrier": "ZTO", "file": f})
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["created"], body["encoding"], body["rows"]) == (3, "gb18030", 3)
    assert body["unmatched"] == ["ZT1000000003"]
    bad = zh_csv(f"ZT3000000001,张三,13812345678,{VILLAGE},abc,M,")
    r = c.post(url, {"carrier": "ZTO", "file": SimpleUploadedFile("b.csv", bad.encode())})
    assert r.status_code == 422
    assert r.json()["details"]["errors"][0] == {
        "line": 2,
        "column": "重量(kg)",
        "message": "kilograms, a number with at most 3 decimals",
    }
    # another county's manager: the villages are unknown to it
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    f = SimpleUploadedFile("m.csv", GOOD.replace("ZT1", "ZT9").encode(), "text/csv")
    r = api_client(other).post(url, {"carrier": "ZTO", "file": f})
    assert r.status_code == 422 and r.json()["details"]["errors"][0]["column"] == "村代码"
    op = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    f = SimpleUploadedFile("m.csv", GOOD.encode(), "text/csv")
    assert api_client(op).post(url, {"carrier": "ZTO", "file": f}).status_code == 403
    assert Parcel.objects.count() == 3
