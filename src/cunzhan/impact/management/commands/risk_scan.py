"""``cunzhan risk-scan --county 520204 [--year 2025] [--threshold 50] [--fall-share 0.2]``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core.errors import ApplicationError
from cunzhan.impact.risk import RiskConfig, risk_scan


class Command(BaseCommand):
    help = (
        "Relapse-risk scan (防返贫监测) of a county's registered and exited households for a "
        "year: opens a case for each newly flagged household, updates the open ones."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", required=True, action="append", help="6-digit code")
        parser.add_argument("--year", type=int, default=None, help="default: last year")
        parser.add_argument("--as-of", default="", help="YYYY-MM-DD, the sales trend's day")
        parser.add_argument("--threshold", type=int, default=None, help="flag at this score")
        parser.add_argument(
            "--fall-share", type=float, default=None, help="income fall flagged above (0.2)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        changes: dict[str, Any] = {}
        if opts["threshold"] is not None:
            changes["threshold"] = opts["threshold"]
        if opts["fall_share"] is not None:
            changes["income_fall_bp"] = round(opts["fall_share"] * 10_000)
        config = dataclasses.replace(RiskConfig(), **changes)
        as_of = None
        if opts["as_of"]:
            try:
                as_of = dt.date.fromisoformat(opts["as_of"])
            except ValueError as exc:
                raise CommandError(f"--as-of: a date YYYY-MM-DD, got {opts['as_of']!r}") from exc
        for county in opts["county"]:
            try:
                r = risk_scan(county_code=county, year=opts["year"], as_of=as_of, config=config)
            except ApplicationError as exc:
                raise CommandError(f"{county}: {exc.message}") from exc
            self.stdout.write(
                f"{r.county_code} {r.year}: {r.evaluated} households evaluated, {r.flagged} "
                f"flagged, {r.opened} cases opened, {r.updated} updated, {r.unchanged} unchanged"
            )
