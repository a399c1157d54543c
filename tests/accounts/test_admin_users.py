"""/admin/users: the system admin's account administration (permission accounts.manage)."""

import re

import sqlalchemy as sa

from backend.org.models import User
from tests.accounts.conftest import PASSWORD, add_person, web_context
from tests.helpers.login import sign_in


def admin_client(web):
    add_person(web, "sys9", ["sysadmin"])
    client = web.test_client()
    sign_in(client, "sys9", PASSWORD)
    return client


def test_only_account_managers_reach_the_page(web, client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    assert client.get("/admin/users").status_code == 403
    add_person(web, "sec1", ["secadmin"])
    security = web.test_client()
    sign_in(security, "sec1", PASSWORD)
    assert security.get("/admin/users").status_code == 403
    assert security.post(f"/admin/users/{person}/disable").status_code == 403
    assert web.test_client().get("/admin/users").status_code == 302  # signed out: to the login page


def test_list_and_search(web, person):
    admin = admin_client(web)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'data-user="fgw_reviewer"' in page and 'data-user="sys9"' in page
    found = admin.get("/admin/users", query_string={"q": "reviewer"}).get_data(as_text=True)
    assert 'data-user="fgw_reviewer"' in found and 'data-user="sys9"' not in found


def test_create_gives_a_one_time_password_that_must_be_changed(web, session):
    admin = admin_client(web)
    response = admin.post("/admin/users/new", data={"username": "newbie", "display_name": "新人"})
    assert response.status_code == 200
    temporary = re.search(r"data-temporary-password>([^<]+)<", response.get_data(as_text=True)).group(1)
    assert admin.post("/admin/users/new", data={"username": "newbie", "display_name": "x"}).status_code == 400
    with web_context(web) as web_db:
        user = web_db.scalar(sa.select(User).where(User.username == "newbie"))
        assert user.must_change_password and user.roles == [] and user.active
    person = web.test_client()
    assert sign_in(person, "newbie", temporary).headers["Location"].startswith("/password")
    assert person.get("/inbox").headers["Location"].startswith("/password")


def test_disable_ends_sessions_and_refuses_sign_in_then_enable(web, client, person):
    admin = admin_client(web)
    sign_in(client, "fgw_reviewer", PASSWORD)
    assert admin.post(f"/admin/users/{person}/disable").status_code == 302
    assert client.get("/inbox").status_code == 302
    assert sign_in(client, "fgw_reviewer", PASSWORD).status_code == 401
    assert admin.post(f"/admin/users/{person}/enable").status_code == 302
    assert sign_in(client, "fgw_reviewer", PASSWORD).status_code == 302


def test_an_admin_cannot_disable_themselves(web, session):
    admin = admin_client(web)
    with web_context(web) as web_db:
        me = web_db.scalar(sa.select(User.id).where(User.username == "sys9"))
    admin.post(f"/admin/users/{me}/disable")
    assert admin.get("/admin/users").status_code == 200


def test_each_admin_action_is_audited(web, client, person):
    from backend.audit.models import AuditRecord

    admin = admin_client(web)
    for action in ("disable", "enable", "unlock", "reset-password", "reset-2fa"):
        admin.post(f"/admin/users/{person}/{action}")
    admin.post("/admin/users/new", data={"username": "newbie2", "display_name": "新人"})
    with web_context(web) as web_db:
        rows = web_db.scalars(sa.select(AuditRecord).where(AuditRecord.action.like("user.%"))).all()
        done = [(r.action, r.username, r.object_type) for r in rows]
    assert done == [
        ("user.disable", "sys9", "user"),
        ("user.enable", "sys9", "user"),
        ("user.unlock", "sys9", "user"),
        ("user.password_reset", "sys9", "user"),
        ("user.totp_reset", "sys9", "user"),
        ("user.create", "sys9", "user"),
    ]


def test_the_system_admin_cannot_take_over_another_admins_account(web):
    """三员分立: resetting the audit admin's password or second factor would let the system
    admin sign in as them; admins' credentials are reset at the console only."""
    admin = admin_client(web)
    audit_admin = add_person(web, "aud9", ["auditadmin"])
    for action in ("reset-password", "reset-2fa", "disable", "enable"):
        response = admin.post(f"/admin/users/{audit_admin}/{action}")
        assert response.status_code == 403, action
        assert "flask roles reset-admin" in response.get_data(as_text=True)
    with web_context(web) as web_db:
        user = web_db.get(User, audit_admin)
        assert user.active and not user.must_change_password

    runner = web.test_cli_runner()
    result = runner.invoke(args=["roles", "reset-admin", "aud9"])
    assert result.exit_code == 0, result.output
    temporary = re.search(r"temporary password (\S+)", result.output).group(1)
    assert runner.invoke(args=["roles", "reset-admin", "fgw_reviewer"]).exit_code != 0  # not an admin
    person = web.test_client()
    assert sign_in(person, "aud9", temporary).headers["Location"].startswith("/password")
