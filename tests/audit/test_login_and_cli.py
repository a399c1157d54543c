"""A failed sign-in is recorded in its own transaction; `flask audit verify|checkpoint`."""

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.audit import record, service
from backend.audit.models import AuditRecord
from backend.ledger.models import LedgerCheckpoint
from backend.org.models import User
from tests.audit.conftest import Client, tamper

PASSWORD = "Audit#Passw0rd-2026"


@pytest.fixture()
def alice(session):
    user = User(
        username="alice", display_name="alice", roles=["reviewer"], active=True, must_change_password=False
    )
    set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.add(user)
    session.commit()
    return user


def test_failed_login_recorded_with_source_address(app, session, alice):
    client = Client(app, app.response_class, use_cookies=True)
    response = client.post(
        "/login", data={"username": "alice", "password": "wrong"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 401
    session.rollback()
    row = session.scalars(sa.select(AuditRecord).filter_by(action="auth.login")).one()
    assert (row.username, row.result, row.source_addr) == ("alice", "failure", "10.1.2.3")
    assert service.verify(session=session).ok


def test_failure_recorded_even_when_the_request_rolls_back(app, session):
    """What /login relies on: the request's transaction is rolled back, the failure stays."""
    with app.test_request_context("/login", method="POST", environ_base={"REMOTE_ADDR": "10.9.8.7"}):
        session.add(User(username="ghost", display_name="ghost", roles=[]))
        session.flush()
        record("auth.login", result="failure", username="ghost", detail={"reason": "password"})
        assert session.scalar(sa.select(AuditRecord).filter_by(username="ghost")) is None  # not yet
        session.rollback()
    assert session.scalar(sa.select(User).filter_by(username="ghost")) is None
    row = session.scalars(sa.select(AuditRecord).filter_by(username="ghost")).one()
    assert row.result == "failure" and row.source_addr == "10.9.8.7"
    assert service.verify(session=session).ok


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", *args])


def test_cli_checkpoint_and_verify(app, session):
    for i in range(4):
        record("test.cli", username=f"u{i}")
    session.commit()
    result = _cli(app, "checkpoint")
    assert result.exit_code == 0, result.output
    assert "audit: #" in result.output and "tree_size=4" in result.output
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerCheckpoint)) == 1
    result = _cli(app, "verify")
    assert result.exit_code == 0, result.output
    assert "完好" in result.output

    victim = session.scalars(sa.select(AuditRecord).filter_by(username="u2")).one()
    victim_id, victim_leaf = victim.id, victim.leaf_index
    tamper(session, "UPDATE audit_record SET detail = '{\"x\": 1}' WHERE id = :id", id=victim_id)
    session.commit()
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert f"审计记录 #{victim_id}" in result.output and "已被篡改" in result.output

    tamper(session, "DELETE FROM audit_record WHERE id = :id", id=victim_id)
    session.commit()
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert f"第 {victim_leaf} 条记录已被删除" in result.output


def test_cli_purge_refused_inside_retention(app, session):
    record("test.cli", username="u")
    session.commit()
    result = _cli(app, "purge", "--before", "2999-01-01")
    assert result.exit_code == 1 and "180" in result.output
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) == 1
