"""Demo people get the printable initial password once, and must change it."""

import sqlalchemy as sa

from backend.accounts import service
from backend.accounts.demo import DEMO_PASSWORD, demo_passwords
from backend.demo import LOADERS
from backend.org.demo import PEOPLE, load_org
from backend.org.models import User
from tests.accounts.conftest import web_context


def test_demo_password_passes_the_policy():
    from backend.accounts import password_problems

    assert password_problems(DEMO_PASSWORD) == []


def test_runs_after_the_demo_people():
    names = [fn.__name__ for fn in LOADERS]
    assert names.index("load_org") < names.index("demo_passwords")


def test_gives_every_demo_person_the_password_once(web_session):
    load_org(session=web_session)
    assert demo_passwords(session=web_session) == len(PEOPLE)
    users = web_session.scalars(sa.select(User)).all()
    assert all(u.must_change_password for u in users)
    assert all(service.check_password(user=u, password=DEMO_PASSWORD) for u in users[:3])
    hashes = {u.username: u.password_hash for u in users}

    changed = web_session.scalar(sa.select(User).where(User.username == "fgw_head"))
    service.change_password(user=changed, current_password=DEMO_PASSWORD, new_password="Mine#2026x")
    web_session.flush()

    assert demo_passwords(session=web_session) == 0  # idempotent
    web_session.expire_all()
    again = {u.username: u.password_hash for u in web_session.scalars(sa.select(User))}
    assert {k: v for k, v in again.items() if k != "fgw_head"} == {
        k: v for k, v in hashes.items() if k != "fgw_head"
    }
    assert service.check_password(user=changed, password="Mine#2026x")  # a changed password is kept


def test_demo_person_signs_in_with_it(web, client):
    with web_context(web) as web_db:
        load_org(session=web_db)
        demo_passwords(session=web_db)
        web_db.commit()
    response = client.post("/login", data={"username": "applicant", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].startswith("/password")


def test_demo_heads_and_admins_get_the_printed_totp_secret(web, client):
    import pyotp

    from backend.accounts import totp
    from backend.accounts.demo import DEMO_TOTP_SECRET, demo_totp

    with web_context(web) as web_db:
        load_org(session=web_db)
        demo_passwords(session=web_db)
        created = demo_totp(session=web_db)
        web_db.commit()
        people = web_db.scalars(sa.select(User)).all()
        required = {u.username for u in people if totp.is_required(u)}
        enrolled = {u.username for u in people if u.totp_enabled}
        assert created == len(required) > 0 and enrolled == required
        assert "fgw_head" in enrolled and "applicant" not in enrolled
        assert totp.secret_of(next(u for u in people if u.username == "fgw_head")) == DEMO_TOTP_SECRET
        assert demo_totp(session=web_db) == 0  # idempotent
    response = client.post("/login", data={"username": "fgw_head", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/login/verify"
    done = client.post("/login/verify", data={"code": pyotp.TOTP(DEMO_TOTP_SECRET).now()})
    assert done.headers["Location"].startswith("/password")  # then the initial password
