"""Province 52 (贵州) imported once per test module from the shipped data."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from cunzhan.core.models import AuditEvent
from cunzhan.network.models import Region, RegionAlias
from cunzhan.network.regions_import import ImportReport, regions_import


def remove_regions() -> None:
    """Undo a committed import: aliases, regions and the import's audit events."""
    RegionAlias.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Region._meta.db_table}")  # noqa: S608
    AuditEvent.objects.filter(object_type="network.region").delete()


def import_guizhou() -> ImportReport:
    return regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)


@pytest.fixture(scope="module")
def guizhou(django_db_setup, django_db_blocker):
    """The real tree of province 52, committed for the module and removed after it."""
    with django_db_blocker.unblock():
        remove_regions()
        report = import_guizhou()
    yield report
    with django_db_blocker.unblock():
        remove_regions()
