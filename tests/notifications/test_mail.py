"""Notifications by e-mail: a real SMTP server (aiosmtpd) on a local port, the mail jobs run
through the outbox like any background work."""

import logging
from datetime import timedelta

import sqlalchemy as sa
import time_machine
from flask import g
from flask.testing import FlaskClient

from backend import jobs
from backend.accounts.service import set_password
from backend.db import utcnow
from backend.jobs.models import OutboxJob
from backend.org.models import Department, User
from backend.tasks import mail
from backend.tasks import service as tasks
from tests.helpers import login
from tests.projects.factories import PROJECT_CODE

from .conftest import BASE_URL, configure_mail, free_port, give_emails, notes

PASSWORD = "Test-Passw0rd-2026"


def _mail_jobs(session) -> list[OutboxJob]:
    session.rollback()  # read afresh, and end the read: jobs run in their own sessions
    rows = list(session.scalars(sa.select(OutboxJob).filter_by(actor=mail.SEND_MAIL).order_by(OutboxJob.id)))
    session.rollback()
    return rows


def test_without_a_mail_server_nothing_is_queued(flow, session):
    give_emails(session)
    flow.submit()
    assert [n.user for n in notes(session)] == ["fgw_window"]
    assert _mail_jobs(session) == []


def test_a_notification_arrives_by_mail_with_its_link(flow, session, mail):
    inbox = mail
    session.add(
        User(username="fgw_window2", display_name="无邮箱", department_id=_fgw(session), roles=["window"])
    )
    session.commit()  # an active member of the group without an e-mail address

    flow.submit()
    (intake,) = flow.open_tasks()
    assert sorted(n.user for n in notes(session)) == ["fgw_window", "fgw_window2"]
    (queued,) = _mail_jobs(session)
    assert inbox.received() == []  # sent after commit, by a job, never inside the request

    jobs.drain()
    ((recipients, message),) = inbox.received()
    assert recipients == ["fgw_window@example.gov.cn"]
    assert message["To"] == "fgw_window@example.gov.cn"
    assert message["From"].addresses[0].addr_spec == "bpm@example.gov.cn"
    assert message["Subject"] == f"【新待办】新任务「受理审查 ({PROJECT_CODE})」待签收"
    body = message.get_content()
    assert f"{BASE_URL}/tasks/{intake.id}" in body
    assert body.startswith("fgwwindow, 您好")
    assert _mail_jobs(session)[0].state == "done"


def test_inbox_operations_are_mailed_too(flow, session, mail):
    inbox = mail
    flow.submit()
    jobs.drain()
    (intake,) = flow.open_tasks()
    window = session.scalar(sa.select(User).filter_by(username="fgw_window"))
    tasks.claim(session=session, user=window, task_id=intake.id)
    tasks.transfer(session=session, user=window, task_id=intake.id, to="fgw_reviewer", reason="请协助受理")
    session.commit()
    jobs.drain()
    (recipients, message) = inbox.received()[-1]
    assert recipients == ["fgw_reviewer@example.gov.cn"]
    assert message["Subject"].startswith("【转办】")
    assert f"{BASE_URL}/tasks/{intake.id}" in message.get_content()


class Client(FlaskClient):
    """Each request forgets the signed-in person cached on the shared app context's g."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def test_an_unreachable_mail_server_is_retried_and_never_breaks_the_request(
    app, flow, session, monkeypatch, caplog
):
    configure_mail(app, monkeypatch, port=free_port())  # nothing listens there
    give_emails(session)
    set_password(user=flow.org.applicant, password=PASSWORD, enforce_policy=False)
    session.commit()
    flow.submit()
    (intake,) = flow.open_tasks()

    client = Client(app, app.response_class, use_cookies=True)
    assert login.sign_in(client, "applicant", PASSWORD).status_code == 302
    response = client.post(f"/tasks/{intake.id}/urge", data={"reason": "请尽快受理"}, follow_redirects=True)
    assert response.status_code == 200
    assert "已催办" in response.get_data(as_text=True)
    assert [n.kind for n in notes(session, user="fgw_window")] == ["new_task", "urged"]

    caplog.set_level(logging.INFO)
    start = utcnow()
    jobs.drain()  # the failure stays inside the job
    rows = _mail_jobs(session)
    assert [(r.state, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all("ConnectionRefusedError" in r.last_error for r in rows)
    assert all(r.run_after >= start + timedelta(seconds=60) for r in rows)  # the jobs' backoff

    for day in range(1, mail.MAX_RETRIES + 1):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            jobs.drain()
    rows = _mail_jobs(session)
    assert [(r.state, r.attempts) for r in rows] == [("dead", mail.MAX_RETRIES + 1)] * 2
    failed = [r for r in caplog.records if r.getMessage() == "mail.failed"]
    assert len(failed) == 2 * (mail.MAX_RETRIES + 1)
    dead = [
        r for r in caplog.records if r.getMessage() == "job.failed" and getattr(r, "outcome", None) == "dead"
    ]
    assert len(dead) == 2


def test_a_refused_recipient_is_logged_not_retried(flow, session, mail, smtp_server, caplog):
    controller, inbox = smtp_server

    async def refuse(server, session_, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable"

    controller.handler.handle_RCPT = refuse
    flow.submit()
    caplog.set_level(logging.INFO)
    jobs.drain()
    (row,) = _mail_jobs(session)
    assert (row.state, row.attempts) == ("done", 0)
    assert inbox.received() == []
    assert [r for r in caplog.records if r.getMessage() == "mail.refused"]


def _fgw(session) -> int:
    return session.scalar(sa.select(Department.id).filter_by(code="fgw"))
