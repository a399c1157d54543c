"""The admin pages: admins only; a hook's secret is shown once; subscriptions and deliveries
are listed with their state and latency."""

import re

import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.org.models import User
from backend.webhooks.models import InboundHook, WebhookSubscription
from tests.helpers import login

PASSWORD = "Webhooks-Test-2026!"


class Client(FlaskClient):
    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def _user(session, username, roles):
    user = session.scalar(sa.select(User).filter_by(username=username))
    if user is None:
        user = User(username=username, display_name=username, roles=roles, active=True)
        session.add(user)
        set_password(user=user, password=PASSWORD, enforce_policy=False)
        session.commit()
    return user


def signed_in(app, session, username, roles):
    _user(session, username, roles)
    client = Client(app, app.response_class, use_cookies=True)
    response = login.sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def admin_client(app, session):
    return signed_in(app, session, "webadmin", ["sysadmin"])


def test_only_admins_see_the_page(app, session):
    assert app.test_client().get("/admin/webhooks").status_code == 302  # to the sign-in page
    operator = signed_in(app, session, "ops", ["operator"])
    assert operator.get("/admin/webhooks").status_code == 403
    admin = admin_client(app, session)
    assert admin.get("/admin/webhooks").status_code == 200
    assert "data-webhooks-link" in admin.get("/admin/webhooks").get_data(as_text=True)
    assert "data-webhooks-link" not in operator.get("/cockpit/instances").get_data(as_text=True)


def test_create_hook_shows_the_secret_once_and_rotates_it(app, session):
    client = admin_client(app, session)
    response = client.post(
        "/admin/webhooks/hooks/new",
        data={
            "name": "intake",
            "action": "start",
            "target": "webhook_intake",
            "variables": '{"amount": "/amount"}',
            "payload_schema": '{"type": "object", "required": ["amount"]}',
            "business_key_pointer": "/code",
            "replay_window_seconds": "300",
            "max_body_bytes": "1024",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    shown = re.search(r"<pre[^>]*data-secret>([^<]+)</pre>", response.get_data(as_text=True)).group(1)
    session.rollback()
    hook = session.scalar(sa.select(InboundHook).filter_by(name="intake"))
    assert (
        hook.secret == shown
        and hook.variables == {"amount": "/amount"}
        and hook.business_key_pointer == "/code"
    )
    # The edit page never shows it again.
    assert shown not in client.get(f"/admin/webhooks/hooks/{hook.id}").get_data(as_text=True)

    rotated = client.post(f"/admin/webhooks/hooks/{hook.id}/rotate").get_data(as_text=True)
    session.rollback()
    new_secret = session.get(InboundHook, hook.id).secret
    assert new_secret != shown and new_secret in rotated


def test_invalid_hook_settings_are_named(app, session):
    client = admin_client(app, session)
    response = client.post(
        "/admin/webhooks/hooks/new",
        data={
            "name": "Bad Name",
            "action": "start",
            "target": "",
            "variables": "{not json",
            "payload_schema": '{"type": 5}',
            "replay_window_seconds": "300",
            "max_body_bytes": "1024",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-problem="variables"' in page
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(InboundHook.id))) == 0

    response = client.post(
        "/admin/webhooks/hooks/new",
        data={
            "name": "Bad Name",
            "action": "start",
            "target": "",
            "variables": "{}",
            "payload_schema": '{"type": 5}',
            "replay_window_seconds": "300",
            "max_body_bytes": "1024",
        },
    )
    page = response.get_data(as_text=True)
    for field in ("name", "target", "payload_schema"):
        assert f'data-problem="{field}"' in page


def test_subscription_is_created_and_listed(app, session):
    client = admin_client(app, session)
    response = client.post(
        "/admin/webhooks/subscriptions/new",
        data={
            "url": "https://receiver.example/hooks",
            "event_types": ["instance.started", "payment.released"],
            "max_attempts": "5",
            "enabled": "on",
        },
    )
    assert response.status_code == 200 and "data-secret" in response.get_data(as_text=True)
    session.rollback()
    subscription = session.scalar(sa.select(WebhookSubscription))
    assert (
        subscription.event_types == ["instance.started", "payment.released"]
        and subscription.max_attempts == 5
    )
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "https://receiver.example/hooks" in page and subscription.secret not in page

    bad = client.post("/admin/webhooks/subscriptions/new", data={"url": "ftp://x", "max_attempts": "50"})
    page = bad.get_data(as_text=True)
    for field in ("url", "event_types", "max_attempts"):
        assert f'data-problem="{field}"' in page
