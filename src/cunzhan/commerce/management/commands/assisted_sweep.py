"""``cunzhan assisted-sweep [--county CODE]``: link the parcels that arrived for assisted
purchases (代购) and accrue the station commission of those picked up (a job to run
after ``cunzhan logistics-age``). Idempotent; prints one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.commerce import assisted
from cunzhan.core.scope import RegionScope
from cunzhan.network.models import Level, Region


class Command(BaseCommand):
    help = (
        "Assisted purchases: link arrived parcels (tracking number, or an unambiguous "
        "phone at the same station) and accrue the commission of picked-up ones, once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", default="", help="a county code (default: all)")

    def handle(self, *args: Any, **o: Any) -> None:
        county = o["county"].strip()
        if county:
            if not Region.objects.filter(code=county, level=Level.COUNTY).exists():
                raise CommandError(f"--county: not a loaded county code: {county!r}")
            scope = RegionScope.for_regions([county])
        else:
            scope = RegionScope.national()
        result = assisted.assisted_sweep(scope=scope)
        self.stdout.write(json.dumps({"county": county or "all", **result.__dict__}))
