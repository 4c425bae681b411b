"""``cunzhan indicators-refresh --county 520204 [--since 2026-09-01]``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core.errors import ApplicationError
from cunzhan.impact.services import indicators_refresh


class Command(BaseCommand):
    help = (
        "Recompute a county's stored indicator values: every day since --since, or (without "
        "it) only the days whose data arrived since the last refresh."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", required=True, action="append", help="6-digit code")
        parser.add_argument("--since", default="", help="YYYY-MM-DD")

    def handle(self, *args: Any, **opts: Any) -> None:
        since = None
        if opts["since"]:
            try:
                since = dt.date.fromisoformat(opts["since"])
            except ValueError as exc:
                raise CommandError(f"--since: a date YYYY-MM-DD, got {opts['since']!r}") from exc
        for county in opts["county"]:
            started = time.perf_counter()
            try:
                result = indicators_refresh(county_code=county, since=since)
            except ApplicationError as exc:
                raise CommandError(f"{county}: {exc.message}") from exc
            self.stdout.write(
                f"{county}: {result.cells_written} cells written, {result.cells_deleted} "
                f"replaced, {sum(result.periods.values())} periods "
                f"in {time.perf_counter() - started:.2f} s"
            )
