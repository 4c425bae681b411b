"""What each role sees on its home page. Domains contribute panels by registering them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cunzhan.core.scope import RegionScope

HomePanel = Callable[..., dict[str, Any] | None]
_PANELS: list[tuple[int, HomePanel]] = []


def register_panel(order: int) -> Callable[[HomePanel], HomePanel]:
    def deco(fn: HomePanel) -> HomePanel:
        _PANELS.append((order, fn))
        _PANELS.sort(key=lambda p: p[0])
        return fn

    return deco


def home_context(*, user: Any, scope: RegionScope) -> dict[str, Any]:
    panels = []
    for _order, fn in _PANELS:
        panel = fn(user=user, scope=scope)
        if panel:
            panels.append(panel)
    return {"panels": panels}
