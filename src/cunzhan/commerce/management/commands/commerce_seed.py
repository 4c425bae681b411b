"""``cunzhan commerce_seed [--file PATH]``: load the products and grade standards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.commerce.seed import CATALOGUE, catalogue_seed
from cunzhan.core.errors import ApplicationError


class Command(BaseCommand):
    help = "Load the commerce catalogue (products, grade standards) from a JSON file. Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", default=str(CATALOGUE), help="catalogue JSON")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            products = catalogue_seed(path=Path(o["file"]))
        except (ApplicationError, OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot load {o['file']}: {exc}") from exc
        for p in products:
            self.stdout.write(f"{p.code:<16} {p.name}")
        self.stdout.write(f"{len(products)} products")
