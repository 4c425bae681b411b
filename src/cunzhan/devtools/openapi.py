"""The committed OpenAPI schema (docs/openapi.json) and how it is produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def openapi_schema() -> dict[str, Any]:
    from cunzhan.config.api import api

    return api.get_openapi_schema(path_prefix="/api/v1")


def openapi_text() -> str:
    return json.dumps(openapi_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
