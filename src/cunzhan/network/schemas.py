from __future__ import annotations

from ninja import Schema


class RegionOut(Schema):
    code: str
    name: str
    display_name: str
    level: int
    kind: str
    parent: str | None
    longitude: float | None
    latitude: float | None
    coord_source: str
    is_poverty_county: bool
    poverty_exit_year: int | None
    withdrawn: bool


class AliasOut(Schema):
    code: str
    name: str
    valid_from: int | None
    valid_until: int | None


class RegionDetailOut(RegionOut):
    descendant_counts: dict[str, int]
    aliases: list[AliasOut]
    ancestors: list[RegionOut]
    resolved_from: str | None
