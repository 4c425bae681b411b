from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from cunzhan.devtools.openapi import SCHEMA_PATH, openapi_text


class Command(BaseCommand):
    help = "Write the OpenAPI schema of /api/v1 (default: docs/openapi.json)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", nargs="?", default=str(SCHEMA_PATH))

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        Path(path).write_text(openapi_text(), encoding="utf-8")
        self.stdout.write(f"wrote {path}")
