"""The seed catalogue (``commerce/data/catalogue.json``): six products of the 六盘水
area with illustrative grade standards, loaded through the services by
``cunzhan commerce_seed`` and by the demo. Loading twice changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cunzhan.commerce.models import Product
from cunzhan.commerce.services import catalogue_load

CATALOGUE = Path(__file__).parent / "data" / "catalogue.json"


def catalogue_data(path: Path = CATALOGUE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def catalogue_seed(*, path: Path = CATALOGUE, actor: Any = None) -> list[Product]:
    return catalogue_load(data=catalogue_data(path), actor=actor)
