"""Browser (desktop viewport): a registry officer imports CSV files with bad rows (UTF-8 and
GBK): nothing is written, the row/column/problem report is read and downloaded, the
corrected file imports whole and its rows are in the household list; the household page
masks ID numbers, the reveal shows the full number and the auditor finds that read in the
audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.conf import settings

from cunzhan.accounts.roles import Role
from cunzhan.network.regions_import import regions_import
from cunzhan.registry.models import Household, Person
from tests.factories.registry import id_number

BIDE_VILLAGE = "520204106200"  # 比德村村民委员会
DAZHAI_VILLAGE = "520204106202"  # 大寨村村民委员会
HEADER = "村代码,户编号,地址,姓名,性别,出生年份,与户主关系,电话,身份证号,建档年份,致贫原因,脱贫年份"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def guizhou(transactional_db):
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR)


@pytest.fixture
def desktop(browser, live_server):
    contexts = []

    def _open(username: str):
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=DESKTOP,
            accept_downloads=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw-secret-1")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    yield _open
    for context in contexts:
        context.close()


def _bad_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def _upload(page, name: str, data: bytes) -> None:
    page.goto("/registry/imports/")
    page.set_input_files(
        "#import-form input[type=file]",
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}],
    )
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/registry/imports/*/")


def _errors(page) -> list[tuple[str, str, str]]:
    rows = page.locator("#import-errors tbody tr")
    return [tuple(c.strip() for c in r.locator("td").all_inner_texts()) for r in rows.all()]


def _summary(page) -> dict[str, str]:
    stats = page.locator("#import-summary .stat")
    return {
        s.locator("span").inner_text().strip(): s.locator("b").inner_text().strip()
        for s in stats.all()
    }


def test_import_with_bad_rows_report_download_and_household_list(guizhou, desktop, make_user):
    make_user(Role.REGISTRY_OFFICER, regions=["520204"], username="officer")
    head = id_number(born=dt.date(1968, 2, 3), sex="male")
    wife = id_number(born=dt.date(1970, 7, 8), sex="female")
    bad = _bad_check_digit(id_number(born=dt.date(1975, 1, 1), sex="male"))
    rows = [
        f"{BIDE_VILLAGE},0001,比德村1组,杨国强,男,1968,户主,13800000001,{head},2014,因病,2018",  # 2
        f"{BIDE_VILLAGE},0001,比德村1组,王秀英,女,1970,配偶,,{wife},2014,因病,2018",  # 3
        f"{BIDE_VILLAGE},0002,比德村2组,龙海,男,1975,户主,,{bad},,,",  # 4: check digit
        "999999999999,0003,,吴明,男,1980,户主,,,,,",  # 5: unknown village
        f"{DAZHAI_VILLAGE},0004,大寨村3组,,女,1985,户主,,,,,",  # 6: name missing
        f"{DAZHAI_VILLAGE},0005,大寨村4组,罗兰,女,1985,户主,,,2016,缺技术,",  # 7
    ]
    data = ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")

    page = desktop("officer")
    page.click("a.button:text-is('批量导入')")  # from the home panel
    page.wait_for_url("**/registry/imports/")
    _upload(page, "比德村户籍.csv", data)

    assert "比德村户籍.csv" in page.locator("h1").inner_text()
    summary = _summary(page)
    # a file with bad rows is imported whole or not at all: nothing yet
    assert (summary["数据行"], summary["已导入"], summary["有问题的行"]) == ("6", "0", "3")
    assert summary["新增户 / 更新户"] == "0 / 0"
    assert page.locator("#import-nothing").is_visible()
    errors = _errors(page)
    expected = [("4", "身份证号"), ("5", "村代码"), ("6", "姓名")]
    assert [(row, col) for row, col, _p in errors] == expected
    assert "校验" in errors[0][2]  # the problem names the check digit
    assert "999999999999" in errors[1][2]
    assert bad not in page.content()  # the report never repeats an ID number

    with page.expect_download() as info:
        page.click("a:text-is('下载问题报告（CSV）')")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), "rb") as fh:
        raw = fh.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel shows the Chinese
    report = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert report[0] == ["行号", "列", "问题"]
    assert [(r[0], r[1]) for r in report[1:]] == expected
    assert [r[2] for r in report[1:]] == [p for _r, _c, p in errors]

    # the corrected file (the bad rows taken out) imports whole
    good = [r for i, r in enumerate(rows, start=2) if i not in (4, 5, 6)]
    _upload(page, "比德村户籍-改.csv", ("\n".join([HEADER, *good]) + "\n").encode("utf-8"))
    assert (_summary(page)["已导入"], _summary(page)["有问题的行"]) == ("3", "0")
    assert _summary(page)["新增户 / 更新户"] == "2 / 0"
    data = ("\n".join([HEADER, *good]) + "\n").encode("utf-8")

    # a GBK file from a county office: decoded, the bad row reported, nothing written
    gbk_rows = [
        f"{DAZHAI_VILLAGE},0006,大寨村5组,龙秀珍,女,1972,户主,,,2015,因残,2019",
        f"{DAZHAI_VILLAGE},0007,,张德,男,1979,老板,,,,,",  # relation unknown
    ]
    _upload(page, "大寨村-gbk.csv", ("\n".join([HEADER, *gbk_rows]) + "\n").encode("gbk"))
    assert "gb" in page.locator("main").inner_text().lower()  # the encoding detected
    assert (_summary(page)["已导入"], _summary(page)["有问题的行"]) == ("0", "1")
    assert [(r, c) for r, c, _p in _errors(page)] == [("3", "与户主关系")]
    _upload(page, "大寨村-gbk.csv", ("\n".join([HEADER, gbk_rows[0]]) + "\n").encode("gbk"))
    assert (_summary(page)["已导入"], _summary(page)["有问题的行"]) == ("1", "0")

    # the household list shows the imported households with their heads, not the bad rows
    page.goto("/registry/?region=520204106")
    table = page.locator("#household-table tbody").inner_text()
    for name in ("杨国强", "罗兰", "龙秀珍"):
        assert name in table
    for name in ("龙海", "吴明", "张德"):
        assert name not in table
    assert "共 3 户" in page.locator("#household-results").inner_text()
    assert Household.objects.count() == 3 and Person.objects.count() == 4

    # importing the same file again creates no duplicates
    _upload(page, "比德村户籍-改.csv", data)
    assert _summary(page)["新增户 / 更新户"] == "0 / 0"
    assert Household.objects.count() == 3 and Person.objects.count() == 4


def test_masked_id_reveal_and_the_audit_log(guizhou, desktop, make_user):
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204"], username="officer")
    make_user(Role.AUDITOR, regions=["5202"], username="auditor")
    head = id_number(born=dt.date(1968, 2, 3), sex="male")
    data = (
        f"{HEADER}\n{BIDE_VILLAGE},0001,比德村1组,杨国强,男,1968,户主,13800000001,{head},2014,因病,\n"
    ).encode()
    page = desktop("officer")
    _upload(page, "one.csv", data)
    hh = Household.objects.get()

    page.goto("/registry/?poor=1")
    page.click("#household-table a:text-is('杨国强')")
    page.wait_for_url(f"**/registry/households/{hh.uuid}/")
    assert "建档立卡户" in page.locator("h1").inner_text()
    assert "因病" in page.locator("main").inner_text()
    row = page.locator("#member-table tbody tr", has_text="杨国强")
    masked = head[:2] + "*" * 14 + head[-2:]
    assert row.locator("code").first.inner_text() == masked
    assert head not in page.content()

    row.locator("button:text-is('显示身份证号')").click()
    revealed = row.locator("code.revealed")
    revealed.wait_for()
    assert revealed.inner_text() == head
    assert "已记录查看" in row.inner_text()

    auditor = desktop("auditor")
    # the auditor may read the register but not reveal ID numbers
    auditor.goto(f"/registry/households/{hh.uuid}/")
    assert auditor.locator("#member-table button").count() == 0
    assert head not in auditor.content()

    auditor.goto("/audit/")
    auditor.check("input[name=personal_data]")
    auditor.select_option("#f-action", "read")
    auditor.click("form.filters button[type=submit]")
    auditor.wait_for_url("**personal_data=1**")
    rows = auditor.locator("#audit-table tbody tr")
    texts = rows.all_inner_texts()
    assert texts and all("查看个人信息" in t and "个人信息" in t for t in texts)
    reveals = [t for t in texts if "id_number" in t]
    assert len(reveals) == 1  # one reveal, by the officer, of 杨国强's number
    assert officer.username in reveals[0] and "杨国强" in reveals[0]
    # opening the household pages is logged as well (officer and auditor)
    assert any("auditor" in t for t in texts) and len(texts) == 3
    assert head not in auditor.content()  # the log records the read, not the number
