"""Two ninja Schema classes with the same class name become ONE OpenAPI component
(``#/components/schemas/<name>``): the last one registered wins, and every operation
that uses the other publishes a schema its responses do not match (commerce's order
line ``LineOut`` was published as the ledger's ``LineOut``). Every Schema class that
an operation uses — request and response, nested at any depth — has a name of its own.
"""

from __future__ import annotations

import enum
import typing
from collections import defaultdict

from pydantic import BaseModel


def _walk(annotation: typing.Any, found: set[type]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        found.add(annotation)  # an enum is a component of its own too
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in found:
            return
        found.add(annotation)
        for field in annotation.model_fields.values():
            _walk(field.annotation, found)
        return
    for arg in typing.get_args(annotation):
        _walk(arg, found)


def schema_classes_by_name() -> dict[str, set[type]]:
    """Every project Schema (and enum) class reachable from an operation of the API,
    by ``__name__``.

    ninja's own generated models (the per-operation parameter and response wrappers,
    ``Paged<Item>``) are walked through but not counted: they are built from the
    project's classes and inlined or named after them."""
    from cunzhan.config.api import api

    found: set[type] = set()
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    _walk(model, found)
                for model in operation.response_models.values():
                    _walk(model, found)
    by_name: dict[str, set[type]] = defaultdict(set)
    for cls in found:
        if cls.__module__.startswith("cunzhan."):
            by_name[cls.__name__].add(cls)
    return by_name


def _collisions() -> dict[str, list[str]]:
    return {
        name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
        for name, classes in schema_classes_by_name().items()
        if len(classes) > 1
    }


def test_the_walk_reaches_nested_request_and_response_classes():
    by_name = schema_classes_by_name()
    # nested in a response (OrderDetailOut.lines) and in a request body (OrderIn.lines)
    assert "OrderLineOut" in by_name
    assert "LineIn" in by_name
    assert "ErrorOut" in by_name
    # an enum in a query parameter of a paginated list, and in a body
    assert "LotStatus" in by_name
    assert "Shop" in by_name


def test_no_two_schema_classes_share_a_name():
    collisions = _collisions()
    assert not collisions, (
        "Schema classes sharing a name collide into one OpenAPI component; rename one of "
        f"each: {collisions}"
    )


def test_order_detail_publishes_the_order_line():
    from cunzhan.devtools.openapi import openapi_schema

    components = openapi_schema()["components"]["schemas"]
    lines = components["OrderDetailOut"]["properties"]["lines"]["items"]["$ref"]
    line = components[lines.rsplit("/", 1)[1]]
    assert {"product", "grade", "unit_price_fen", "allocations"} <= set(line["properties"])
