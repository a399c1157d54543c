"""Password expiry (90 days), no reuse of the last 5, admin reset must be changed (issue 7)."""

import re
from datetime import timedelta

import pytest

from backend.accounts import PasswordReused, password_problems, service
from backend.accounts.models import PasswordHistory
from backend.db import utcnow
from backend.org.models import User
from tests.accounts.conftest import PASSWORD, add_person, web_context
from tests.helpers.login import sign_in


def change(client, current, new):
    return client.post(
        "/password", data={"current_password": current, "new_password": new, "confirm_password": new}
    )


def set_age(web, user_id, days):
    with web_context(web) as web_db:
        web_db.get(User, user_id).password_changed_at = utcnow() - timedelta(days=days)
        web_db.commit()


def test_expired_password_must_be_changed_before_anything_else(web, client, person):
    set_age(web, person, 91)
    response = sign_in(client, "fgw_reviewer", PASSWORD, query_string={"next": "/inbox"})
    assert response.headers["Location"].startswith("/password")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "密码已超过 90 天未修改" in page
    assert client.get("/inbox").headers["Location"].startswith("/password")
    assert change(client, PASSWORD, "Renewed#2027").headers["Location"] == "/"
    assert client.get("/inbox").status_code == 200
    with web_context(web) as web_db:
        user = web_db.get(User, person)
        assert not user.must_change_password
        assert utcnow() - user.password_changed_at < timedelta(minutes=1)


def test_a_password_younger_than_the_limit_is_not_expired(web, client, person):
    set_age(web, person, 89)
    assert sign_in(client, "fgw_reviewer", PASSWORD).headers["Location"] == "/"
    assert client.get("/inbox").status_code == 200


def test_the_age_limit_is_configurable(web_session, person):
    user = web_session.get(User, person)
    user.password_changed_at = utcnow() - timedelta(days=40)
    assert not service.password_expired(user=user)
    from flask import current_app

    current_app.config["PASSWORD_MAX_AGE_DAYS"] = 30
    try:
        assert service.password_expired(user=user)
    finally:
        current_app.config["PASSWORD_MAX_AGE_DAYS"] = 90


def test_none_of_the_last_five_passwords_may_be_used_again(web_session, person):
    user = web_session.get(User, person)
    chain = [PASSWORD, "Second#2026", "Third#2026", "Fourth#2026", "Fifth#2026"]
    for current, new in zip(chain, chain[1:], strict=False):
        service.change_password(user=user, current_password=current, new_password=new)
        web_session.flush()
    for old in chain:  # the current one and the four before it
        with pytest.raises(PasswordReused) as refused:
            service.change_password(user=user, current_password="Fifth#2026", new_password=old)
        assert "最近 5 次" in str(refused.value)
    service.change_password(user=user, current_password="Fifth#2026", new_password="Sixth#2026")
    web_session.flush()
    # Six back is allowed again; the history keeps no more than it needs.
    service.change_password(user=user, current_password="Sixth#2026", new_password=PASSWORD)
    web_session.flush()
    assert web_session.query(PasswordHistory).filter_by(user_id=person).count() <= 5


def test_the_password_page_refuses_a_recent_password(client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    response = change(client, PASSWORD, PASSWORD)
    assert response.status_code == 400
    assert "新密码不能与最近 5 次使用过的密码相同" in response.get_data(as_text=True)


def test_a_reset_password_must_be_changed_at_first_sign_in(web, client, person):
    add_person(web, "sys2", ["sysadmin"])
    admin = web.test_client()
    sign_in(admin, "sys2", PASSWORD)
    page = admin.post(f"/admin/users/{person}/reset-password")
    assert page.status_code == 200
    temporary = re.search(r"data-temporary-password>([^<]+)<", page.get_data(as_text=True)).group(1)
    assert not password_problems(temporary)
    with web_context(web) as web_db:
        assert web_db.get(User, person).must_change_password
    assert sign_in(client, "fgw_reviewer", PASSWORD).status_code == 401  # the old one is gone
    response = sign_in(client, "fgw_reviewer", temporary)
    assert response.headers["Location"].startswith("/password")
    assert client.get("/inbox").headers["Location"].startswith("/password")
    assert change(client, temporary, "MyOwn#2027x").status_code == 302
    assert client.get("/inbox").status_code == 200
