from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cunzhan.core import simulation
from cunzhan.core.scope import prefix_q
from cunzhan.devtools.fingerprint import data_fingerprint
from cunzhan.network.models import Level, Region


class Command(BaseCommand):
    help = (
        "Run the domains' simulation generators for counties and days, deterministically "
        "from a seed (each domain registers its generator; see core/simulation.py): "
        "households, parcels down, shipments up, lots and orders, 代购, weekly payouts, "
        "yearly income records. Ends with the rows created per domain."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "region", help="a county code, or a prefecture/province code for all its counties"
        )
        parser.add_argument("--seed", type=int, default=2018)
        parser.add_argument("--day", default=timezone.localdate().isoformat(), help="YYYY-MM-DD")
        parser.add_argument("--days", type=int, default=1, help="how many days from --day")
        parser.add_argument(
            "--counties",
            type=int,
            default=None,
            help="only the first N counties (by code) of a prefecture or province",
        )
        parser.add_argument(
            "--only", action="append", help="a generator name (repeatable); default: all"
        )
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            help="a generator parameter NAME=VALUE (VALUE read as JSON when it parses)",
        )
        parser.add_argument(
            "--json", action="store_true", help="print each county-day's results as a JSON line"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
        parser.add_argument(
            "--fingerprint",
            action="store_true",
            help="print a digest of the simulated data at the end (the same seed on the "
            "same start gives the same digest)",
        )
        parser.add_argument("--list", action="store_true", help="list the generators and exit")

    def handle(self, *args: Any, **o: Any) -> None:
        names = simulation.generators()
        if o["list"]:
            for name in names:
                self.stdout.write(name)
            return
        unknown = sorted(set(o["only"] or ()) - set(names))
        if unknown:
            raise CommandError(
                f"unknown generator(s): {', '.join(unknown)}; known: {', '.join(names)}"
            )
        try:
            start = dt.date.fromisoformat(o["day"])
        except ValueError as exc:
            raise CommandError(f"--day must be YYYY-MM-DD, got {o['day']!r}") from exc
        if o["days"] < 1:
            raise CommandError("--days must be at least 1")
        if o["counties"] is not None and o["counties"] < 1:
            raise CommandError("--counties must be at least 1")
        params = dict(_param(p) for p in o["param"])
        # every day's parcels and shipments move on until the end of the run's last day
        # (a parcel announced on one day is picked up on a later one)
        last = start + dt.timedelta(days=o["days"] - 1)
        params.setdefault("until", f"{last.isoformat()}T23:59:59+08:00")
        code = o["region"].strip()
        region = Region.objects.filter(code=code).first()
        if region is None or region.level > Level.COUNTY:
            raise CommandError(
                f"{code!r} is not a loaded province, prefecture or county code "
                "(load regions with `cunzhan regions import`)"
            )
        counties = (
            [region.code]
            if region.level == Level.COUNTY
            else list(
                Region.objects.filter(prefix_q("code", code), level=Level.COUNTY, withdrawn_in="")
                .order_by("code")
                .values_list("code", flat=True)
            )
        )
        if o["counties"] is not None:
            counties = counties[: o["counties"]]
        if not counties:
            raise CommandError(f"{code!r} has no county in the loaded region tree")

        def line(ctx: simulation.SimulationContext) -> None:
            row = {"county": ctx.county_code, "day": ctx.day.isoformat(), "results": ctx.results}
            self.stdout.write(json.dumps(row, ensure_ascii=False, default=str))

        summary = simulation.run_many(
            seed=o["seed"],
            county_codes=counties,
            start=start,
            days=o["days"],
            only=o["only"],
            params=params,
            progress=not o["quiet"] and sys.stderr.isatty(),
            on_day=line if o["json"] else None,
        )
        if o["fingerprint"]:
            fp = data_fingerprint()
            self.stdout.write(f"fingerprint {fp['digest']} {json.dumps(fp['rows'])}")
        if o["quiet"]:
            return
        out = self.stderr if o["json"] else self.stdout
        rate = summary.county_days / summary.seconds if summary.seconds else 0.0
        out.write(
            f"simulated {len(counties)} counties × {o['days']} days "
            f"({summary.county_days} county-days) in {summary.seconds:.1f} s "
            f"({rate:.2f} county-days/s), seed {o['seed']}"
        )
        by_domain = summary.by_domain()
        for domain in simulation.DOMAINS:
            if domain not in by_domain:
                continue
            parts = [
                f"{key.split('.')[1]} {n:+d}"
                for key, n in summary.rows.items()
                if key.startswith(domain + ".")
            ]
            out.write(f"  {domain:<10} {by_domain[domain]:>+9d} rows  ({', '.join(parts)})")
        timing = ", ".join(
            f"{name} {secs:.1f} s" for name, secs in summary.generator_seconds.items()
        )
        out.write(f"  time per generator: {timing}")


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CommandError(f"--param must be NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value
