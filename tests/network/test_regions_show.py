"""`cunzhan regions import|show` (the command), province 52 imported once for the module."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cunzhan.network.models import Region

pytestmark = pytest.mark.django_db


def show(code: str) -> dict:
    out = io.StringIO()
    call_command("regions", "show", code, stdout=out)
    return json.loads(out.getvalue())


def test_show_prints_one_json_object_with_counts_aliases_poverty_and_point(guizhou):
    data = show("520204")
    assert data["code"] == "520204"
    assert data["name"] == data["display_name"] == "水城区"
    assert (data["level"], data["kind"], data["parent"]) == (3, "district", "5202")
    assert data["descendant_counts"] == {"township": 30, "village": 189}
    assert data["is_poverty_county"] is True and data["poverty_exit_year"] == 2019
    assert {"code": "520221", "name": "水城县", "valid_from": 1987, "valid_until": 2020} in data[
        "aliases"
    ]
    assert data["coordinates"]["source"] == "real"
    assert data["coordinates"]["system"] == "GCJ-02"
    assert data["withdrawn"] is False and data["withdrawn_in"] is None
    assert data["resolved_from"] is None
    assert [a["code"] for a in data["ancestors"]] == ["52", "5202"]


def test_show_counts_descendants_by_level_names(guizhou):
    data = show("5202")
    assert data["descendant_counts"] == {"county": 4, "township": 92, "village": 1152}
    assert data["coordinates"] is None
    assert show("52")["descendant_counts"]["prefecture"] == 9


def test_an_alias_code_prints_the_unit_it_resolves_to(guizhou):
    data = show("520221")
    assert data["code"] == "520204"
    assert data["display_name"] == "水城区（原水城县）"
    assert data["resolved_from"] == "520221"


def test_unknown_code_is_a_clear_error(guizhou):
    with pytest.raises(CommandError, match="unknown region code '999999'"):
        call_command("regions", "show", "999999")
    with pytest.raises(CommandError, match="not a region code"):
        call_command("regions", "show", "52x")


def test_unknown_code_exits_1_with_the_message_on_stderr(guizhou, capsys, monkeypatch):
    """As on the command line: `cunzhan regions show 999999` -> stderr, exit code 1."""
    from django.core.management import ManagementUtility
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)  # keep the test connection
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["cunzhan", "regions", "show", "999999"]).execute()
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert "unknown region code '999999'" in captured.err
    assert captured.out == ""


def test_import_command_reports_counts_and_is_idempotent(guizhou):
    out = io.StringIO()
    call_command("regions", "import", "--province", "52", "--no-progress", stdout=out)
    text = out.getvalue()
    assert "regions nbs2023 (52)" in text
    assert "created 0, updated 0, unchanged 19572, withdrawn 0" in text


def test_import_command_takes_several_provinces_and_a_data_dir(guizhou, tmp_path):
    with pytest.raises(CommandError, match="unknown province code"):
        call_command("regions", "import", "--province", "52,99", "--no-progress")
    with pytest.raises(CommandError, match="no nbs2023/ folder"):
        call_command(
            "regions", "import", "--province", "52", "--data-dir", str(tmp_path), "--no-progress"
        )
    assert Region.objects.count() == 19572


def test_import_command_requires_province_or_all():
    with pytest.raises(CommandError):
        call_command("regions", "import")
    with pytest.raises(CommandError):
        call_command("regions", "import", "--all", "--province", "52")
