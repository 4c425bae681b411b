"""regions_import: updates from a newer file, all-or-nothing on bad files, progress.

Province 52 is imported once for the module; every test works on a copy of the
data in ``tmp_path`` (villages cut to province 52 to keep it quick) and runs in
a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import functools
import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent
from cunzhan.network.models import Kind, Region, RegionAlias
from cunzhan.network.regions_import import regions_import
from cunzhan.network.selectors import region_descendant_counts

SOURCE = Path(settings.DATA_DIR) / "cn"


pytestmark = pytest.mark.django_db


@functools.cache
def guizhou_village_lines() -> tuple[str, ...]:
    with gzip.open(SOURCE / "nbs2023" / "villages.csv.gz", "rt", encoding="utf-8") as f:
        header = next(f)
        return (header, *(line for line in f if line.startswith("52")))


def write_villages(folder: Path, lines: list[str] | tuple[str, ...]) -> None:
    data = "".join(lines).encode("utf-8")
    (folder / "nbs2023" / "villages.csv.gz").write_bytes(gzip.compress(data, compresslevel=1))


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A copy of data/cn in tmp_path/cn (villages of province 52 only)."""
    target = tmp_path / "cn"
    for sub in ("nbs2023", "coords", "crosswalk", "poverty"):
        shutil.copytree(
            SOURCE / sub, target / sub, ignore=shutil.ignore_patterns("villages.csv.gz")
        )
    write_villages(target, guizhou_village_lines())
    return target


def edit_csv(path: Path, edit: Callable[[list[str]], list[str]], encoding: str = "utf-8"):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_bytes("".join(edit(lines)).encode(encoding))


def replace_line(lines: list[str], startswith: str, new: str | None) -> list[str]:
    out = []
    hits = 0
    for line in lines:
        if line.startswith(startswith):
            hits += 1
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    assert hits == 1, f"{startswith}: {hits} lines"
    return out


def village_row(code: str) -> int:
    """Row number (header = 1) of ``code`` in the province-52 villages file."""
    for i, line in enumerate(guizhou_village_lines(), start=1):
        if line.startswith(code + ","):
            return i
    raise AssertionError(code)


# --------------------------------------------------------------------------
# a newer data file
# --------------------------------------------------------------------------


def test_copy_of_the_same_data_changes_nothing(guizhou, data_copy):
    report = regions_import(provinces=["52"], data_dir=data_copy, progress=False)
    assert (report.created, report.updated, report.withdrawn) == (0, 0, 0)
    assert report.unchanged == guizhou.total_rows


def test_newer_file_renames_adds_and_withdraws_never_deletes(guizhou, data_copy):
    # given a newer file: a township renamed, a county renamed (city -> district),
    # a new village, one village gone and one township gone with its villages
    edit_csv(
        data_copy / "nbs2023" / "streets.csv",
        lambda lines: replace_line(
            replace_line(lines, "520204106,", '520204106,"比德新镇",520204,52,5202\n'),
            "520204107,",
            None,
        ),
    )
    edit_csv(
        data_copy / "nbs2023" / "areas.csv",
        lambda lines: replace_line(lines, "520281,", '520281,"盘州区",5202,52\n'),
    )
    gone_town = [c for c in guizhou_village_lines() if c.startswith("520204107")]
    villages = [
        line
        for line in guizhou_village_lines()
        if not line.startswith(("520204106202,", "520204107"))
    ]
    villages.append('520204106299,"新寨村村民委员会",520204106,52,5202,520204\n')
    write_villages(data_copy, villages)
    before = Region.objects.count()

    report = regions_import(
        provinces=["52"], data_dir=data_copy, progress=False, data_version="nbs2024"
    )

    assert report.created == 1
    assert report.updated == 2
    assert report.withdrawn == 1 + 1 + len(gone_town)
    assert report.unchanged == report.total_rows - 3
    assert Region.objects.count() == before + 1  # nothing deleted
    town = Region.objects.get(code="520204106")
    assert (town.name, town.data_version) == ("比德新镇", "nbs2024")
    panzhou = Region.objects.get(code="520281")
    assert (panzhou.name, panzhou.kind) == ("盘州区", Kind.DISTRICT)
    new = Region.objects.get(code="520204106299")
    assert (new.parent_id, new.kind, new.withdrawn_in) == ("520204106", Kind.VILLAGE, "")
    assert Region.objects.get(code="520204106202").withdrawn_in == "nbs2024"
    assert Region.objects.get(code="520204107").withdrawn_in == "nbs2024"
    assert Region.objects.get(code="520201").data_version == "nbs2023"  # untouched
    assert region_descendant_counts(code="520204") == {4: 29, 5: 189 - len(gone_town)}

    # and importing the old file again brings the withdrawn units back
    back = regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)
    assert back.updated == 2 + 1 + 1 + len(gone_town)
    assert back.withdrawn == 1  # the village only the newer file had
    assert Region.objects.get(code="520204107").withdrawn_in == ""
    assert region_descendant_counts(code="520204") == {4: 30, 5: 189}


def test_importing_another_province_leaves_the_first_alone(guizhou, data_copy):
    report = regions_import(provinces=["53"], data_dir=data_copy, progress=False)
    assert report.withdrawn == 0  # 53 has no villages in the copy, 52 is not touched
    assert report.rows_in_files["villages"] == 0
    assert not Region.objects.filter(code="52", withdrawn_in__gt="").exists()
    assert Region.objects.get(code="5301").name == "昆明市"


def test_a_synthetic_point_set_elsewhere_survives_a_reimport(guizhou):
    Region.objects.filter(code="520204106200").update(
        longitude=104.9, latitude=26.5, coord_source="synthetic"
    )
    report = regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)
    assert report.updated == 0
    village = Region.objects.get(code="520204106200")
    assert (village.longitude, village.coord_source) == (104.9, "synthetic")


def test_a_long_import_shows_a_progress_bar(guizhou, capsys):
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=True)
    err = capsys.readouterr().err
    assert "regions" in err and "100%" in err


def test_each_run_is_recorded_in_the_audit_log(guizhou):
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)
    event = AuditEvent.objects.filter(object_type="network.region").order_by("-id").first()
    assert event is not None and event.action == "import"
    assert event.after["unchanged"] == guizhou.total_rows


# --------------------------------------------------------------------------
# bad input: a clear error, nothing written
# --------------------------------------------------------------------------


def bad_header(d: Path) -> None:
    edit_csv(d / "nbs2023" / "areas.csv", lambda ls: ["code,nom,cityCode,provinceCode\n", *ls[1:]])


def bad_code(d: Path) -> None:
    lines = list(guizhou_village_lines())
    i = village_row("520204106200") - 1
    lines[i] = lines[i].replace("520204106200,", "52020410620X,", 1)
    write_villages(d, lines)


def missing_parent(d: Path) -> None:
    write_villages(
        d, [*guizhou_village_lines(), '520204999001,"某村村民委员会",520204999,52,5202,520204\n']
    )


def gbk_file(d: Path) -> None:
    edit_csv(
        d / "nbs2023" / "streets.csv", lambda ls: ls, encoding="gb18030"
    )  # GBK superset, as county offices save


def truncated_gzip(d: Path) -> None:
    path = d / "nbs2023" / "villages.csv.gz"
    path.write_bytes(path.read_bytes()[:-5000])


def wrong_column_count(d: Path) -> None:
    edit_csv(
        d / "nbs2023" / "cities.csv",
        lambda ls: [
            ls[0],
            *[(ln.rstrip("\n") + ",x\n" if ln.startswith("5203") else ln) for ln in ls[1:]],
        ],
    )


def bad_exit_year(d: Path) -> None:
    edit_csv(
        d / "poverty" / "poverty_counties_832.csv",
        lambda ls: [
            ln.replace(",西部,2019,", ",西部,二〇一九,") if ln.startswith("520204") else ln
            for ln in ls
        ],
    )


def bad_crosswalk(d: Path) -> None:
    edit_csv(
        d / "crosswalk" / "areacodes_result.csv",
        lambda ls: [
            ln.replace("520201;520204", "520201;5202x4") if ln.startswith("520221") else ln
            for ln in ls
        ],
    )


def missing_file(d: Path) -> None:
    (d / "coords" / "county_points_nbs2023.csv").unlink()


def streets_line(code: str) -> int:
    lines = (SOURCE / "nbs2023" / "streets.csv").read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, start=1) if ln.startswith(code + ","))


def cities_line(code: str) -> int:
    lines = (SOURCE / "nbs2023" / "cities.csv").read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, start=1) if ln.startswith(code + ","))


def cross_line(code: str) -> int:
    lines = (SOURCE / "crosswalk" / "areacodes_result.csv").read_text("utf-8-sig").splitlines()
    return next(i for i, ln in enumerate(lines, start=1) if ln.startswith(code + ","))


def poverty_line(code: str) -> int:
    lines = (SOURCE / "poverty" / "poverty_counties_832.csv").read_text("utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, start=1) if ln.startswith(code + ","))


CASES = {
    "bad header": (bad_header, "nbs2023/areas.csv", lambda: 1, "name", "missing column"),
    "bad code": (
        bad_code,
        "nbs2023/villages.csv.gz",
        lambda: village_row("520204106200"),
        "code",
        "12-digit code",
    ),
    "parent missing": (
        missing_parent,
        "nbs2023/villages.csv.gz",
        lambda: len(guizhou_village_lines()) + 1,
        "streetCode",
        "not in the data",
    ),
    "GBK file": (gbk_file, "nbs2023/streets.csv", lambda: 2, None, "not UTF-8"),
    "truncated gzip": (truncated_gzip, "nbs2023/villages.csv.gz", lambda: None, None, "truncated"),
    "column count": (
        wrong_column_count,
        "nbs2023/cities.csv",
        lambda: cities_line("5203"),
        None,
        "expected 3 columns, found 4",
    ),
    "bad exit year": (
        bad_exit_year,
        "poverty/poverty_counties_832.csv",
        lambda: poverty_line("520204"),
        "exit_year",
        "expected a year",
    ),
    "bad crosswalk code": (
        bad_crosswalk,
        "crosswalk/areacodes_result.csv",
        lambda: cross_line("520221"),
        "新代码",
        "6-digit code",
    ),
    "missing file": (
        missing_file,
        "coords/county_points_nbs2023.csv",
        lambda: None,
        None,
        "not found",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_file_is_named_with_row_and_column_and_nothing_is_written(
    guizhou, data_copy, case
):
    mutate, filename, row, column, problem = CASES[case]
    # given a valid change earlier in the files (a rename) and then the defect
    edit_csv(
        data_copy / "nbs2023" / "streets.csv",
        lambda lines: replace_line(lines, "520204106,", '520204106,"比德新镇",520204,52,5202\n'),
    )
    mutate(data_copy)
    regions_before = Region.objects.count()
    aliases_before = RegionAlias.objects.count()
    audit_before = AuditEvent.objects.count()

    with pytest.raises(ApplicationError) as exc:
        regions_import(provinces=["52"], data_dir=data_copy, progress=False, data_version="v2")

    err = exc.value
    assert err.code == "region_data_invalid"
    assert filename in err.message
    assert problem in err.message
    expected_row = row()
    if expected_row is not None:
        assert f"row {expected_row}" in err.message
        assert err.details["row"] == expected_row
    if column is not None:
        assert f"column {column!r}" in err.message
        assert err.details["column"] == column
    # nothing written
    assert Region.objects.get(code="520204106").name == "比德镇"
    assert not Region.objects.filter(data_version="v2").exists()
    assert not Region.objects.exclude(withdrawn_in="").exists()
    assert Region.objects.count() == regions_before
    assert RegionAlias.objects.count() == aliases_before
    assert AuditEvent.objects.count() == audit_before


def test_gbk_error_says_how_to_fix_it(guizhou, data_copy):
    gbk_file(data_copy)
    with pytest.raises(ApplicationError, match="save the file as UTF-8"):
        regions_import(provinces=["52"], data_dir=data_copy, progress=False)


def test_unknown_province_is_refused(guizhou):
    with pytest.raises(ApplicationError) as exc:
        regions_import(provinces=["52", "99"], data_dir=settings.DATA_DIR, progress=False)
    assert exc.value.code == "unknown_province"
    assert "99" in exc.value.message


def test_a_folder_without_the_data_is_refused(guizhou, tmp_path):
    with pytest.raises(ApplicationError) as exc:
        regions_import(provinces=["52"], data_dir=tmp_path, progress=False)
    assert exc.value.code == "region_data_missing"


@pytest.mark.slow
def test_whole_country_import(guizhou):
    report = regions_import(provinces=None, data_dir=settings.DATA_DIR, progress=False)
    assert report.rows_in_files["villages"] == 620_573
    assert report.total_rows == 31 + 342 + 2978 + 41_352 + 620_573
    assert report.created == report.total_rows - guizhou.total_rows
    assert Region.objects.filter(is_poverty_county=True).count() == 832 - 1  # 茫崖 twice
