"""Every table in a page scrolls sideways inside its own box (``.table-wrap``) instead of
widening the page past a phone's screen (the assisted-purchase oversight page's anomaly
table made the whole page 1,000 px wide at 390 px)."""

from __future__ import annotations

import re
from pathlib import Path

import cunzhan

ROOT = Path(cunzhan.__file__).parent
# printed on paper, never on a phone screen
PRINTED = {"logistics/templates/logistics/plan/sheet.html"}


def test_every_table_is_inside_a_table_wrap():
    bare = []
    for path in sorted(ROOT.rglob("templates/**/*.html")):
        name = path.relative_to(ROOT).as_posix()
        if name in PRINTED:
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<table\b", text):
            if not re.search(r'<div class="table-wrap\b[^>]*>\s*$', text[: match.start()]):
                bare.append(f"{name}:{text.count(chr(10), 0, match.start()) + 1}")
    assert not bare, "tables outside a .table-wrap: " + ", ".join(bare)
