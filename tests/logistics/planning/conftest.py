from __future__ import annotations

from pathlib import Path

import pytest

from cunzhan.logistics.planning.loaders import load_instance

DATA = Path(__file__).resolve().parents[3] / "data" / "vrp"

INSTANCES = sorted(p for p in DATA.glob("*/*") if p.suffix not in (".sol", ".md") and p.is_file())


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def load():
    cache: dict[str, object] = {}

    def _load(rel: str):
        if rel not in cache:
            cache[rel] = load_instance(DATA / rel)
        return cache[rel]

    return _load
