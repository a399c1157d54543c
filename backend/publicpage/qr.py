"""The public page's absolute address and its QR code (segno)."""

from urllib.parse import quote

import segno
from flask import current_app, request


def public_url(code: str) -> str:
    """Absolute: a phone scanning the site board has no other context. PUBLIC_BASE_URL when
    set (behind a proxy the request's own host may be an internal one), else the request's."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.url_root
    return f"{base.rstrip('/')}/p/{quote(code, safe='')}"


def qr_for(code: str) -> segno.QRCode:
    # Level M: survives some dirt and wear on a site board.
    return segno.make(public_url(code), error="m")
