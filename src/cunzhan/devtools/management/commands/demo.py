from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError
from cunzhan.devtools.demo import DEMO_PASSWORD, HISTORY_DAYS, OTHER_HISTORY_DAYS, demo_build


class Command(BaseCommand):
    help = "Build the 六盘水市 demo network (idempotent) and print a login for each role."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=2018)
        parser.add_argument("--households-per-village", type=int, default=12)
        parser.add_argument(
            "--county",
            action="append",
            dest="counties",
            help="only this county of 六盘水 (repeatable), e.g. --county 520204",
        )
        parser.add_argument(
            "--no-import", action="store_true", help="assume the region tree is loaded"
        )
        parser.add_argument(
            "--days",
            type=int,
            default=HISTORY_DAYS,
            help=f"days of simulated history in 水城区 (default {HISTORY_DAYS}; "
            f"the other counties get at most {OTHER_HISTORY_DAYS})",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["days"] < 1:
            raise CommandError("--days must be at least 1")
        from cunzhan.commerce import payments

        if not payments.provider_enabled(payments.SandboxProvider.code):
            # the demo pays its orders through the sandbox and prints its logins' one
            # password: never on a production database (ADR 0023)
            raise CommandError(
                _(
                    "演示数据只能在启用沙箱支付的演示环境中生成"
                    "（DEBUG=1 或 CUNZHAN_PAYMENTS_SANDBOX_ENABLED=1），未写入任何数据。"
                )
            )
        try:
            report = demo_build(
                seed=opts["seed"],
                households_per_village=opts["households_per_village"],
                import_regions=not opts["no_import"],
                only_counties=opts["counties"],
                history_days=opts["days"],
                echo=self.stdout.write,
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        w = self.stdout.write
        w("")
        w(f"demo ready in {report.seconds:.0f} s: {report.stations_total} stations in 六盘水市")
        w("")
        w(f"open http://127.0.0.1:8000 — every demo login uses the password: {DEMO_PASSWORD}")
        w("")
        for username, role, where in report.logins:
            w(f"  {username:<28} {role:<10} {where}")
