"""The QR image of a lot's public trace page (segno, pure Python): SVG."""

from __future__ import annotations

import io

import segno


def qr_svg(url: str, *, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False)
    return out.getvalue()
