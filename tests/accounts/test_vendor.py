"""Bootstrap comes from the npm package, served by the app from an allowlist."""

import json

from backend.config import ROOT


def test_serves_bootstrap_css_and_js_with_long_cache(client):
    css = client.get("/vendor/bootstrap/bootstrap.min.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert b"Bootstrap" in css.data[:200]
    assert css.cache_control.max_age == 365 * 24 * 3600
    assert css.cache_control.immutable
    js = client.get("/vendor/bootstrap/bootstrap.bundle.min.js")
    assert js.status_code == 200
    assert js.mimetype in ("text/javascript", "application/javascript")


def test_refuses_everything_outside_the_allowlist(client):
    for path in (
        "bootstrap/package.json",
        "bootstrap/dist/css/bootstrap.min.css",
        "../package.json",
        "..%2F..%2Fpyproject.toml",
        "bootstrap/../../backend/config.py",
        "bootstrap/bootstrap.css",
    ):
        assert client.get(f"/vendor/{path}").status_code == 404, path


def test_urls_carry_the_installed_version(web):
    from backend.accounts.vendor import vendor_url

    version = json.loads((ROOT / "node_modules" / "bootstrap" / "package.json").read_text())["version"]
    declared = json.loads((ROOT / "package.json").read_text())["dependencies"]["bootstrap"]
    assert version == declared  # package.json pins exactly what is installed
    with web.test_request_context():
        assert vendor_url("bootstrap/bootstrap.min.css") == f"/vendor/bootstrap/bootstrap.min.css?v={version}"


def test_missing_node_modules_is_a_404_not_a_crash(app, tmp_path):
    from tests.accounts.conftest import make_web_app

    bare = make_web_app(app, NODE_MODULES_DIR=str(tmp_path), WTF_CSRF_ENABLED=False)
    assert bare.test_client().get("/vendor/bootstrap/bootstrap.min.css").status_code == 404
