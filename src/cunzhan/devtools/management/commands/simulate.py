from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.core import simulation
from cunzhan.core.scope import prefix_q
from cunzhan.network.models import Level, Region


class Command(BaseCommand):
    help = (
        "Run the domains' simulation generators for counties and days, deterministically "
        "from a seed (each domain registers its generator; see core/simulation.py)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "region", help="a county code, or a prefecture/province code for all its counties"
        )
        parser.add_argument("--seed", type=int, default=2018)
        parser.add_argument("--day", default=dt.date.today().isoformat(), help="YYYY-MM-DD")
        parser.add_argument("--days", type=int, default=1, help="how many days from --day")
        parser.add_argument(
            "--only", action="append", help="a generator name (repeatable); default: all"
        )
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            help="a generator parameter NAME=VALUE (VALUE read as JSON when it parses)",
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
        params = dict(_param(p) for p in o["param"])
        code = o["region"].strip()
        region = Region.objects.filter(code=code).first()
        if region is None or region.level > Level.COUNTY:
            raise CommandError(
                f"{code!r} is not a loaded province, prefecture or county code "
                "(load regions with `cunzhan regions import`)"
            )
        counties = (
            [region]
            if region.level == Level.COUNTY
            else list(
                Region.objects.filter(
                    prefix_q("code", code), level=Level.COUNTY, withdrawn_in=""
                ).order_by("code")
            )
        )
        for county in counties:
            for offset in range(o["days"]):
                day = start + dt.timedelta(days=offset)
                ctx = simulation.run(
                    seed=o["seed"], county_code=county.code, day=day, only=o["only"], params=params
                )
                line = {"county": county.code, "day": day.isoformat(), "results": ctx.results}
                self.stdout.write(json.dumps(line, ensure_ascii=False, default=str))


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CommandError(f"--param must be NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value
