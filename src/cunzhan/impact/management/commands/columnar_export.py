"""``cunzhan columnar-export [--region CODE] [--out DIR]``: (re)write the Parquet
snapshot of the parcel and sales facts from the database (ADR 0021)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core.errors import ApplicationError
from cunzhan.impact.columnar import root_dir, snapshot_write


class Command(BaseCommand):
    help = (
        "Write the parcel and sales fact tables from the database to Parquet, one file per "
        "county and month (default directory: settings.COLUMNAR_DIR). --region rewrites "
        "only the counties of that region."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--region", default="", help="a region code (2 to 12 digits)")
        parser.add_argument("--out", default="", help="the snapshot directory")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        root = root_dir(opts["out"] or None)
        try:
            manifest = snapshot_write(root=root, region=opts["region"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        counties = manifest.get("counties", {})
        parcels = sum(c["parcels"] for c in counties.values())
        sales = sum(c["sales"] for c in counties.values())
        self.stdout.write(
            f"{root}: {len(counties)} counties, {parcels} parcel rows, {sales} sale rows "
            f"in {time.perf_counter() - started:.1f} s"
        )
