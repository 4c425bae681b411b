"""``cunzhan logistics-age [--county CODE] [--at ISO]``: remind and send back the
parcels that waited too long, then sweep the station fees (a daily job)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import aging


class Command(BaseCommand):
    help = (
        "Aging of waiting parcels (one reminder SMS after the county's reminder days, "
        "return_due after its return days) and the station fee sweep; prints one JSON "
        "object. Idempotent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", default="", help="a county code (default: all)")
        parser.add_argument(
            "--at", default="", help="the time to age at, ISO 8601 with a time zone (default now)"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        at = None
        if o["at"]:
            try:
                at = dt.datetime.fromisoformat(o["at"])
            except ValueError as exc:
                raise CommandError(f"--at must be an ISO 8601 time, got {o['at']!r}") from exc
            if at.tzinfo is None:
                raise CommandError("--at needs a time zone, e.g. 2026-11-02T08:00+08:00")
        try:
            result = aging.aging_run(
                scope=RegionScope.national(), county_code=o["county"].strip() or None, at=at
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
