"""The demo's indicators: every demo county refreshed over the simulated days."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.utils import timezone

from cunzhan.impact.services import indicators_refresh


def demo_impact(
    *, county_codes: list[str], days: int = 14, echo: Callable[[str], None] = print
) -> float:
    """Compute the stored values of the last ``days`` days; returns the seconds taken."""
    started = time.perf_counter()
    # relapse-risk scan first, so that the "households at risk" indicator counts its cases
    demo_risk(county_codes=county_codes, echo=echo)
    since = timezone.localdate() - dt.timedelta(days=days)
    cells = 0
    for code in county_codes:
        cells += indicators_refresh(county_code=code, since=since).cells_written
    seconds = time.perf_counter() - started
    echo(f"  indicators: {cells} cells for {len(county_codes)} counties in {seconds:.1f} s")
    return seconds


def demo_risk(*, county_codes: list[str], echo: Callable[[str], None] = print) -> int:
    """The relapse-risk scan (last year's incomes) of every demo county; returns the
    number of cases opened (docs/adr/0019-relapse-risk.md)."""
    from cunzhan.impact.risk import risk_scan

    opened = 0
    for code in county_codes:
        result = risk_scan(county_code=code)
        opened += result.opened
        echo(f"  relapse risk {code} {result.year}: {result.flagged} of {result.evaluated} flagged")
    return opened
