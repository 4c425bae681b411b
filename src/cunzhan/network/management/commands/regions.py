"""``cunzhan regions import|show``: load the region tree, print one unit as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cunzhan.core.errors import ApplicationError
from cunzhan.network.api import region_detail
from cunzhan.network.regions_import import DEFAULT_DATA_VERSION, regions_import
from cunzhan.network.selectors import region_resolve


class Command(BaseCommand):
    help = (
        "Region tree: `regions import --province 52[,53] | --all` loads the NBS 2023 data "
        "shipped in data/cn; `regions show CODE` prints one unit as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="load or refresh provinces from data/cn")
        which = imp.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--province",
            help="province code(s), comma-separated: 52 or 52,53",
        )
        which.add_argument("--all", action="store_true", help="the whole country")
        imp.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="folder holding cn/ (default: settings.DATA_DIR)",
        )
        imp.add_argument(
            "--data-version",
            default=DEFAULT_DATA_VERSION,
            help=f"label of the data (default {DEFAULT_DATA_VERSION}); "
            "written on changed rows and on withdrawn ones",
        )
        imp.add_argument("--no-progress", action="store_true", help="no progress bar")
        show = sub.add_parser("show", help="print one unit (or what an alias resolves to)")
        show.add_argument("code")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "import":
                self._import(options)
            else:
                self._show(options["code"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _import(self, options: dict[str, Any]) -> None:
        provinces: list[str] | None = None
        if not options["all"]:
            provinces = [p.strip() for p in options["province"].split(",") if p.strip()]
            if not provinces:
                raise CommandError("--province needs at least one code, e.g. 52 or 52,53")
        report = regions_import(
            provinces=provinces,
            data_dir=options["data_dir"] or settings.DATA_DIR,
            progress=not options["no_progress"] and options["verbosity"] > 0,
            data_version=options["data_version"],
        )
        if options["verbosity"] > 0:
            which = (
                f"all {len(report.provinces)} provinces"
                if provinces is None
                else ",".join(report.provinces)
            )
            self.stdout.write(
                f"regions {report.data_version} ({which}): "
                f"{report.total_rows} rows in {report.seconds} s; "
                f"created {report.created}, updated {report.updated}, "
                f"unchanged {report.unchanged}, withdrawn {report.withdrawn}; "
                f"aliases {report.aliases_total} (+{report.aliases_created} "
                f"~{report.aliases_updated} -{report.aliases_deleted}); "
                f"points: {report.county_points} counties, {report.township_points} townships; "
                f"poverty counties {report.poverty_counties}"
            )

    def _show(self, code: str) -> None:
        region, alias = region_resolve(code=code)
        data = region_detail(region, alias)
        data["coordinates"] = (
            {
                "longitude": region.longitude,
                "latitude": region.latitude,
                "system": "GCJ-02",
                "source": region.coord_source,
            }
            if region.longitude is not None and region.latitude is not None
            else None
        )
        data["withdrawn_in"] = region.withdrawn_in or None
        data["data_version"] = region.data_version
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
