"""``cunzhan ledger-fees-sweep [--county CODE] [--day YYYY-MM-DD]``: the daily sweep of
the station fees — record the fees of the parcels and shipments the stations handled
up to the end of the day and post them to the ledger (a daily job, after midnight for
the day before; idempotent)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core.errors import ApplicationError
from cunzhan.ledger import selectors, services


class Command(BaseCommand):
    help = (
        "Record and post the station fees of a day (default today so far) for one county "
        "or every county with stations; prints one JSON object per county. Idempotent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", default="", help="a county code (default: all)")
        parser.add_argument("--day", default="", help="the day, YYYY-MM-DD (default today)")

    def handle(self, *args: Any, **o: Any) -> None:
        day = None
        if o["day"]:
            try:
                day = dt.date.fromisoformat(o["day"])
            except ValueError as exc:
                raise CommandError(f"--day must be YYYY-MM-DD, got {o['day']!r}") from exc
        county = o["county"].strip()
        codes = [county] if county else selectors.counties_with_stations()
        for code in codes:
            try:
                result = services.station_fees_sweep(county=code, day=day)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(json.dumps({"county": code, **result.as_dict()}, ensure_ascii=False))
