"""``cunzhan orders-expire [--county CODE]``: expire the unpaid orders past their time
(settings ``ORDER_UNPAID_TTL_MINUTES``; wholesale ``ORDER_WHOLESALE_UNPAID_TTL_HOURS``)
and give their stock back to the lots. Idempotent (run it every few minutes); prints
one JSON object. Placing an order also expires the overdue orders holding the stock it
wants, so stock is never held while this job waits for its next run."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.commerce import orders
from cunzhan.core.scope import RegionScope
from cunzhan.network.models import Level, Region


class Command(BaseCommand):
    help = "Expire unpaid orders past their time and release their stock (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--county", default="", help="a county code (default: all)")

    def handle(self, *args: Any, **o: Any) -> None:
        county = o["county"].strip()
        scope = None
        if county:
            if not Region.objects.filter(code=county, level=Level.COUNTY).exists():
                raise CommandError(f"--county: not a loaded county code: {county!r}")
            scope = RegionScope.for_regions([county])
        result = orders.orders_expire_overdue(scope=scope)
        self.stdout.write(json.dumps({"county": county or "all", **result.__dict__}))
