"""Security headers on every response, a CSP without inline scripts, and templates that need none."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from backend import create_app
from backend.config import ROOT
from tests.security.conftest import sign_in


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/api/v1/docs"])
def test_every_page_carries_the_headers(app, session, path):
    response = app.test_client().get(path)
    assert response.mimetype == "text/html"
    csp = _directives(response)
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    # Plain HTTP: no HSTS (it is only meaningful, and only sent, over HTTPS).
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/openapi.json", "/api/v1/nope"])
def test_other_responses_cannot_be_framed_or_sniffed(app, session, path):
    response = app.test_client().get(path)
    assert response.mimetype != "text/html"
    assert _directives(response) == {"frame-ancestors": ["'none'"]}
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_pdf_shown_inline_is_not_blocked_by_the_page_policy(tmp_path):
    """Chrome's PDF viewer is an <embed> with inline styles: object-src 'none' or
    style-src 'self' on the PDF response would show "blocked" instead of the document."""
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'pdf.sqlite3'}"})
    other.add_url_rule(
        "/probe.pdf", "probe", lambda: other.response_class(b"%PDF-1.7", mimetype="application/pdf")
    )
    response = other.test_client().get("/probe.pdf")
    csp = _directives(response)
    assert "object-src" not in csp and "style-src" not in csp and "default-src" not in csp
    assert csp["frame-ancestors"] == ["'none'"]


def test_signed_in_pages_carry_them_too(app, session, people):
    client = sign_in(app, "reviewer")
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert _directives(response)["script-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_only_the_modeler_allows_inline_styles_and_never_inline_scripts(app, session, people):
    client = sign_in(app, "designer")
    for path in ("/designer/new", "/designer/processes/doc_review"):
        csp = _directives(client.get(path))
        assert csp["style-src"] == ["'self'", "'unsafe-inline'"], path
        assert csp["script-src"] == ["'self'"], path
    assert _directives(client.get("/designer"))["style-src"] == ["'self'"]


def test_hsts_over_https(app, session):
    response = app.test_client().get("/login", base_url="https://bpm.example.gov.cn")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_behind_a_proxy_https_is_seen_only_when_the_proxy_is_trusted(tmp_path):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for hops, expected in ((0, False), (1, True)):
        proxied = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'p{hops}.sqlite3'}",
                "PROXY_FIX_HOPS": hops,
                "EMBEDDED_WORKERS": False,
            }
        )
        response = proxied.test_client().get("/healthz", headers=forwarded)
        assert ("Strict-Transport-Security" in response.headers) is expected, hops


TEMPLATES = sorted(p for p in (ROOT / "backend").rglob("*.html"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script(template: Path):
    """What the CSP would block: inline <script> (JSON data blocks are data), on*= handlers,
    javascript: URLs, <style> blocks and style="" attributes. Move code and styles to
    backend/static; pass data in a JSON block; use a class instead of style=""."""
    text = template.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.findall(text)
    assert not HANDLER.findall(text)
    assert not JS_URL.findall(text)
    assert not INLINE_STYLE.findall(text)


def test_session_cookie_flags(app, session, people):
    client = app.test_client()
    response = client.post("/login", data={"username": "reviewer", "password": "Test-Passw0rd-2026"})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    # The test app is plain HTTP (PUBLIC_BASE_URL http://...): no Secure flag...
    assert "secure" not in flags


def test_secure_cookie_when_configured(app, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "reviewer", "password": "Test-Passw0rd-2026"},
        base_url="https://bpm.example.gov.cn",
    )
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PUBLIC_BASE_URL": "https://bpm.example.gov.cn"}, "True https"),
        ({"PUBLIC_BASE_URL": "http://localhost:5000"}, "False http"),
        ({"PUBLIC_BASE_URL": "http://localhost:5000", "SESSION_COOKIE_SECURE": "true"}, "True http"),
        ({"PUBLIC_BASE_URL": "https://bpm.example.gov.cn", "SESSION_COOKIE_SECURE": "0"}, "False https"),
    ],
)
def test_secure_cookies_follow_the_public_address(env, expected):
    """Production (an https PUBLIC_BASE_URL) gets Secure cookies without anything more to set."""
    code = "from backend.config import Config as C; print(C.SESSION_COOKIE_SECURE, C.PREFERRED_URL_SCHEME)"
    clean = {k: v for k, v in __import__("os").environ.items() if k not in ("SESSION_COOKIE_SECURE",)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected
