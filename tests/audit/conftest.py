"""People for the audit pages (signed in by writing their session, as tests/authz does) and a
deployed three-step process for the business-action hooks."""

import time
from pathlib import Path

import pyotp
import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts import sessions, totp
from backend.org.models import User
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow.deploy import deploy_files

WORKFLOW = Path(__file__).parent.parent / "workflow"


class Client(FlaskClient):
    """Requests share the `session` fixture's app context: forget flask-login's cached user."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def signed_in(app, user: User) -> Client:
    client = Client(app, app.response_class, use_cookies=True)
    now = time.time()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(user.id)
        cookie["_fresh"] = True
        cookie[sessions.VERSION] = user.session_version or 0
        cookie[sessions.SIGNED_IN_AT] = now
        cookie[sessions.SEEN_AT] = now
    return client


@pytest.fixture()
def people(session):
    made = {}
    for username, roles in (
        ("auditor", ["auditadmin"]),
        ("sysadm", ["sysadmin"]),
        ("reviewer", ["reviewer"]),
    ):
        user = User(
            username=username, display_name=username, roles=roles, active=True, must_change_password=False
        )
        session.add(user)
        if set(roles) & {"auditadmin", "sysadmin"}:
            session.flush()
            user.totp_enabled = True
            totp.seal_secret(user, pyotp.random_base32())
        made[username] = user
    session.commit()
    return made


@pytest.fixture()
def three_steps(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2027)
    source = (WORKFLOW / "bpmn" / "three_steps.bpmn").read_text(encoding="utf-8")
    result = deploy_files(
        session=session,
        files={"three_steps.bpmn": source},
        forms_dir=WORKFLOW / "forms",
        deployed_by="designer1",
    )
    session.commit()
    return result.created[0]


def tamper(session, sql: str, **params) -> None:
    """Change rows as an attacker with database access would (on PostgreSQL past the guards)."""
    import sqlalchemy as sa

    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    tables = ("audit_record", "ledger_leaf", "ledger_checkpoint")
    if pg:
        for t in tables:
            conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER USER")
    session.execute(sa.text(sql), params)
    if pg:
        for t in tables:
            conn.exec_driver_sql(f"ALTER TABLE {t} ENABLE TRIGGER USER")
