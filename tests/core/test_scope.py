from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cunzhan.core.scope import RegionScope, code_successor, minimal_prefixes

digits = st.text(alphabet="0123456789", min_size=1, max_size=12)


@given(prefix=digits, code=digits)
def test_range_of_a_prefix_is_exactly_the_codes_that_start_with_it(prefix, code):
    upper = code_successor(prefix)
    in_range = code >= prefix and (upper is None or code < upper)
    assert in_range == code.startswith(prefix)


@given(codes=st.lists(digits, max_size=8), code=digits)
def test_minimal_prefixes_cover_the_same_codes(codes, code):
    full = any(code.startswith(c) for c in codes)
    minimal = minimal_prefixes(codes)
    assert full == any(code.startswith(c) for c in minimal)
    for a in minimal:
        for b in minimal:
            assert a == b or not b.startswith(a)


def test_scope_contains_and_narrowing():
    scope = RegionScope.for_regions(["5202", "520204", "53"])
    assert scope.prefixes == ("5202", "53")
    assert scope.contains_code("520204106201")
    assert not scope.contains_code("5201")
    assert scope.narrowed_to("520204").prefixes == ("520204",)
    assert scope.narrowed_to("52").prefixes == ("5202",)
    assert not RegionScope.nothing().contains_code("52")
    assert RegionScope.national().contains_code("11")


def test_successor_rejects_non_digits():
    import pytest

    with pytest.raises(ValueError):
        code_successor("52a")
