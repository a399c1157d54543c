"""Security headers on every response.

CSP: scripts only from this origin (no inline script, no eval, no event-handler attributes);
JSON data blocks (`<script type="application/json">`) are not scripts and need nothing.
Styles only from files too: templates carry no `style=""` or `<style>` (tests/security checks).
One exception, found by opening the pages in Chromium with the strict policy: the bpmn-js
modeler's align/distribute popup menu draws its icons as SVG markup with `style` attributes,
so the modeler pages (MODELER_ENDPOINTS) also allow inline *styles* (never inline scripts);
inline styles cannot run code. Fonts and images may be data: URIs (Bootstrap's SVG icons).
"""

from __future__ import annotations

from flask import Flask, Response, request


def policy(*, inline_styles: bool = False) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


CSP = policy()
MODELER_CSP = policy(inline_styles=True)
MODELER_ENDPOINTS = {"designer_pages.modeler", "designer_pages.new"}
# Anything but a page (a PDF or image shown inline, JSON, a download): no scripts of ours run
# in it, and Chrome's PDF viewer is an internal <embed> with inline styles that the page
# policy (object-src 'none', style-src 'self') would block. Framing stays forbidden.
NON_PAGE_CSP = "frame-ancestors 'none'"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


def apply(app: Flask, response: Response) -> Response:
    headers = response.headers
    # A view that set its own (stricter) policy keeps it, e.g. a sandboxed file download.
    if response.mimetype != "text/html":
        default = NON_PAGE_CSP
    elif request.endpoint in MODELER_ENDPOINTS:
        default = MODELER_CSP
    else:
        default = CSP
    headers.setdefault("Content-Security-Policy", app.config.get("CONTENT_SECURITY_POLICY") or default)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # HSTS only on HTTPS (a browser ignores it over HTTP anyway, and sending it on a plain
    # development server would be misleading). Behind a TLS-terminating proxy, request.is_secure
    # is right only with PROXY_FIX_HOPS set (X-Forwarded-Proto trusted).
    seconds = int(app.config.get("HSTS_SECONDS") or 0)
    if request.is_secure and seconds > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={seconds}; includeSubDomains")
    return response
