"""Translations: zh-Hans is the source language, English is shipped.

The catalogue (src/cunzhan/locale/en/LC_MESSAGES/django.po) must be complete, its
compiled .mo committed and current, and every string wrapped in the code must be in it;
pages follow the reader's language, times are shown in Asia/Shanghai.
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from tests.factories.registry import make_household, make_person
from tests.factories.stations import make_station

from cunzhan.accounts.roles import Role
from cunzhan.core.audit import audit_record
from cunzhan.core.models import AuditEvent

SRC = Path(__file__).resolve().parents[2] / "src" / "cunzhan"
LC = SRC / "locale" / "en" / "LC_MESSAGES"
PO = LC / "django.po"
MO = LC / "django.mo"

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


# --- a small .po reader (no polib dependency) --------------------------------------------


def parse_po(text: str) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr {index: text},
    flags, obsolete. Enough of the format for what makemessages writes."""
    entries: list[dict] = []
    cur: dict | None = None
    key: tuple[str, int] | str | None = None
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        if not line:
            if cur is not None:
                entries.append(cur)
            cur, key = None, None
            continue
        if cur is None:
            cur = {
                "msgctxt": None,
                "msgid": "",
                "msgid_plural": None,
                "msgstr": {},
                "flags": set(),
                "obsolete": False,
            }
        if line.startswith("#~"):
            cur["obsolete"] = True
            continue
        if line.startswith("#,"):
            cur["flags"] |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if isinstance(key, tuple):
                cur["msgstr"][key[1]] += value
            else:
                cur[key] += value
            continue
        keyword, _sep, rest = line.partition(" ")
        value = ast.literal_eval(rest)
        if keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            key = ("msgstr", index)
            cur["msgstr"][index] = value
        else:
            assert keyword in ("msgctxt", "msgid", "msgid_plural"), line
            key = keyword
            cur[keyword] = value
    return entries


def catalog_key(entry: dict) -> tuple[str | None, str]:
    return entry["msgctxt"], entry["msgid"]


def messages(entries: list[dict]) -> list[dict]:
    """Real messages: not the header, not obsolete."""
    return [e for e in entries if e["msgid"] and not e["obsolete"]]


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    return parse_po(PO.read_text(encoding="utf-8"))


def test_the_reader_understands_plurals_contexts_and_continuations():
    entries = parse_po(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#, fuzzy, python-format\nmsgctxt "action"\nmsgid "暂"\n"停"\nmsgstr "Sus"\n"pend"\n\n'
        'msgid "共 %(n)s 户"\nmsgid_plural "共 %(n)s 户"\nmsgstr[0] "one"\nmsgstr[1] ""\n'
    )
    header, ctx, plural = entries
    assert header["msgstr"] == {0: "Language: en\n"}
    assert (ctx["msgctxt"], ctx["msgid"], ctx["msgstr"]) == ("action", "暂停", {0: "Suspend"})
    assert ctx["flags"] == {"fuzzy", "python-format"}
    assert plural["msgid_plural"] == "共 %(n)s 户" and plural["msgstr"] == {0: "one", 1: ""}


# --- (a) the catalogue is complete --------------------------------------------------------


def test_po_header_is_english_and_not_fuzzy(po_entries):
    header = po_entries[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header["flags"]
    assert "Language: en\n" in header["msgstr"][0]
    assert "charset=UTF-8" in header["msgstr"][0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"][0]


def test_every_entry_is_translated_and_none_is_fuzzy(po_entries):
    msgs = messages(po_entries)
    assert len(msgs) > 300  # the catalogue covers the pages, not a handful of words
    fuzzy = [e["msgid"] for e in msgs if "fuzzy" in e["flags"]]
    assert fuzzy == []
    untranslated = []
    for e in msgs:
        forms = 2 if e["msgid_plural"] is not None else 1
        if sorted(e["msgstr"]) != list(range(forms)) or not all(e["msgstr"].values()):
            untranslated.append(e["msgid"])
    assert untranslated == []


def test_translations_keep_the_placeholders_and_are_english(po_entries):
    cjk_only = re.compile(r"^[^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*$")
    wrong = []
    for e in messages(po_entries):
        want = sorted(PLACEHOLDER.findall(e["msgid"]))
        for text in e["msgstr"].values():
            if sorted(PLACEHOLDER.findall(text)) != want or cjk_only.match(text):
                wrong.append((e["msgid"], text))
    assert wrong == []


def test_no_msgid_appears_twice(po_entries):
    keys = [catalog_key(e) for e in messages(po_entries)]
    assert len(keys) == len(set(keys))


# --- (b) the committed .mo is the compiled .po -------------------------------------------


def _mo_catalog(path: Path) -> dict:
    with open(path, "rb") as fh:
        catalog = dict(gettext.GNUTranslations(fh)._catalog)  # type: ignore[attr-defined]
    catalog.pop("", None)  # the header (its dates differ between compilations)
    return catalog


def test_committed_mo_matches_the_po(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(PO)],
        check=True,
        capture_output=True,
    )
    committed = _mo_catalog(MO)
    assert committed == _mo_catalog(fresh), "run `make messages` and commit django.mo"


def test_mo_agrees_with_the_po_reader(po_entries):
    """The same check without msgfmt: every .po message is in the .mo with its text."""
    committed = _mo_catalog(MO)
    expected: dict = {}
    for e in messages(po_entries):
        msgid = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            expected[msgid] = e["msgstr"][0]
        else:
            for i, text in e["msgstr"].items():
                expected[(msgid, i)] = text
    assert committed == expected


# --- (c) nothing wrapped in the code is missing from the catalogue -----------------------


def _copy_sources(dst: Path) -> None:
    def ignore(folder: str, names: list[str]) -> list[str]:
        skipped = []
        for name in names:
            path = Path(folder) / name
            if path.is_dir():
                if name in ("locale", "__pycache__", "static"):
                    skipped.append(name)
            elif path.suffix not in (".py", ".html", ".txt"):
                skipped.append(name)
        return skipped

    shutil.copytree(SRC, dst, ignore=ignore)


def test_makemessages_finds_nothing_new(tmp_path, monkeypatch, po_entries):
    copy = tmp_path / "cunzhan"
    _copy_sources(copy)
    locale = copy / "locale"
    locale.mkdir()
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[str(locale)]):
        call_command("makemessages", locale=["en"], no_location=True, verbosity=0)
    fresh = parse_po((locale / "en" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    assert parse_po(PO.read_text(encoding="utf-8")) == po_entries  # the repository is untouched
    found = {catalog_key(e) for e in messages(fresh)}
    committed = {catalog_key(e) for e in messages(po_entries)}
    assert len(found) > 300
    assert sorted(found - committed, key=str) == [], (
        "new strings: run makemessages (see the .po header) and translate them"
    )


def _lazy_helper_strings() -> list[tuple[str, str]]:
    """Literals passed to local ``_lazy(...)`` helpers (gettext_lazy behind a cast for the
    type checker), which makemessages does not know as a keyword."""
    out = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_lazy"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                out.append((path.name, node.args[0].value))
    return out


def test_labels_behind_lazy_helpers_are_in_the_catalogue(po_entries):
    labels = _lazy_helper_strings()
    assert ("hooks.py", "建档立卡户") in labels  # the scan finds the region counters
    committed = {e["msgid"] for e in messages(po_entries)}
    assert [label for label in labels if label[1] not in committed] == []


# --- (d) pages follow the reader's language ----------------------------------------------

NAV_ZH = [
    "首页",
    "行政区划",
    "服务站",
    "地图",
    "物流",
    "农产品",
    "代购监督",
    "建档立卡",
    "影响监测",
    "防返贫监测",
    "审计日志",
    "用户",
    "我的账号",
]
NAV_EN = [
    "Home",
    "Regions",
    "Stations",
    "Map",
    "Logistics",
    "Produce",
    "Assisted-purchase oversight",
    "Registered poor (建档立卡)",
    "Impact",
    "Relapse risk",
    "Audit log",
    "Users",
    "My account",
]


def _nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav">(.*?)</nav>', html, re.S)
    assert nav is not None
    return re.findall(r"<a [^>]*>([^<]*)</a>", nav.group(1))


@pytest.fixture
def world(regions, make_user):
    station = make_station("520204106201", "active")
    household = make_household()
    make_person(household=household, name="张三")
    admin = make_user(Role.NETWORK_ADMIN, username="admin")
    return {"station": station, "household": household, "admin": admin}


PAGES = {
    "home": ("accounts:home", [], ["Hello, admin · Network administrator", "Sign out"]),
    "regions": (
        "network:region",
        ["520204"],
        ["Former national poverty county", "Stations in this region", "Households", "Total"],
    ),
    "stations": (
        "network:stations",
        [],
        ["1 station", "Village service station", "Active", "Apply for a new station"],
    ),
    "households": (
        "registry:households",
        [],
        ["Household register", "Registered poor households only", "Household head", "1 household"],
    ),
    "audit": ("core:audit", [], ["Audit log", "Actor", "Personal-data views only", "Create"]),
}
ZH_LABELS = {
    "home": ["您好", "退出"],
    "regions": ["原国家级贫困县", "本地区的服务站", "户数", "合计"],
    "stations": ["共 1 个服务站", "村级服务站", "运营中", "申请新服务站"],
    "households": ["户籍名册", "仅建档立卡户", "户主", "共 1 户"],
    "audit": ["操作人", "仅个人信息查看", "创建"],
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_render_in_english_for_accept_language_en(world, page):
    name, args, english = PAGES[page]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["admin"])
    r = client.get(reverse(name, args=args))
    assert r.status_code == 200
    html = r.content.decode()
    assert '<html lang="en">' in html
    assert r["Content-Language"] == "en"
    assert _nav_labels(html) == NAV_EN
    for text in english:
        assert text in html, text
    for text in ZH_LABELS[page] + ["筛选", "语言"]:
        assert text not in html, text
    # the data stays as it is: region and person names are Chinese
    if page == "regions":
        assert "水城区" in html and "玉舍镇" in html


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_render_in_chinese_by_default(world, page):
    name, args, _english = PAGES[page]
    client = Client()
    client.force_login(world["admin"])
    html = client.get(reverse(name, args=args)).content.decode()
    assert '<html lang="zh-hans">' in html
    assert _nav_labels(html) == NAV_ZH
    for text in ZH_LABELS[page]:
        assert text in html, text


def test_the_language_switch_sets_the_cookie_and_later_pages_follow_it(world):
    client = Client()
    client.force_login(world["admin"])
    r = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("network:stations")}
    )
    assert r.status_code == 302 and r["Location"] == reverse("network:stations")
    assert client.cookies["django_language"].value == "en"
    html = client.get(reverse("network:stations")).content.decode()
    assert "Apply for a new station" in html and "申请新服务站" not in html
    # and back
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = client.get(reverse("network:stations")).content.decode()
    assert "申请新服务站" in html and "Apply for a new station" not in html


def test_an_unknown_language_falls_back_to_chinese(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(world["admin"])
    html = client.get(reverse("accounts:home")).content.decode()
    assert _nav_labels(html) == NAV_ZH


def test_station_detail_and_household_detail_in_english(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["admin"])
    station = world["station"]
    html = client.get(reverse("network:station", args=[station.pk])).content.decode()
    for text in ["Opening hours", "Every day", "Recommended by"]:
        assert text in html, text
    assert "营业时间" not in html and "周一" not in html
    household = world["household"]
    html = client.get(reverse("registry:household", args=[household.uuid])).content.decode()
    for text in ["Household members", "Household head", "Male", "Show ID number", "Address: "]:
        assert text in html, text
    assert "家庭成员" not in html and "地址：" not in html


APPLICATION = {
    "region_code": "520204106201",  # already has the world's active station
    "kind": "village_station",
    "name": "海坪村第二服务站",
    "address": "村委会一楼",
    "applicant_name": "王小二",
    "applicant_phone": "13800000000",
    "premises_m2": "40",
    "committee_recommendation": "on",
    "deposit_yuan": "3000",
    "capabilities": ["parcels"],
    "opens_at": "08:00",
    "closes_at": "20:00",
    "open_days": ["1", "2"],
}


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("en", "already has a Village service station", "同一地区只能有一个"),
        ("zh-hans", "同一地区只能有一个", "already has a"),
    ],
)
def test_service_errors_follow_the_language(world, language, expected, absent):
    """A service's Chinese message reaches an English reader in English (in the page form)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(world["admin"])
    r = client.post(reverse("network:station_apply"), APPLICATION)
    assert r.status_code == 400
    html = r.content.decode()
    assert expected in html
    assert absent not in html


# --- (e) times are shown in Asia/Shanghai ------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_audit_times_are_shown_in_shanghai_time(world, language):
    event = audit_record(action="update", object_type="test.Clock", object_repr="时区测试")
    instant = dt.datetime(2024, 3, 1, 16, 30, 5, tzinfo=dt.UTC)
    AuditEvent.objects.filter(pk=event.pk).update(at=instant)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(world["admin"])
    html = client.get(reverse("core:audit"), {"object_type": "test.Clock"}).content.decode()
    table = re.search(r'<table id="audit-table">.*?</table>', html, re.S)
    assert table is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", table.group(0)).split())
    assert "时区测试" in text  # the event is listed
    # 16:30:05 UTC is 00:30:05 the next day in Asia/Shanghai (UTC+8)
    assert "2024-03-02 00:30:05" in text, text
    assert "2024-03-01" not in text and "16:30" not in text
