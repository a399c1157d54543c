"""Fixtures of the notification tests: the approval process run by `flow` (tests/approvals),
and a real SMTP server (aiosmtpd) on a free local port."""

import socket
import threading
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from backend.org.models import User
from backend.tasks.models import Notification
from tests.approvals.conftest import deployed, flow, org  # noqa: F401  (fixtures)

BASE_URL = "https://bpm.example.gov.cn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server received (its handler runs on the controller's thread)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def received(self):
        with self._lock:
            return list(self.messages)


@pytest.fixture()
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def configure_mail(app, monkeypatch, *, port: int) -> None:
    for key, value in {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": "",
        "MAIL_FROM": "bpm@example.gov.cn",
        "MAIL_TIMEOUT_SECONDS": 5,
        "PUBLIC_BASE_URL": BASE_URL + "/",
    }.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture()
def mail(app, session, monkeypatch, smtp_server, org):  # noqa: F811
    """Mail on, to the local server; every test person has <username>@example.gov.cn."""
    controller, inbox = smtp_server
    configure_mail(app, monkeypatch, port=controller.port)
    give_emails(session)
    return inbox


def give_emails(session) -> None:
    session.execute(sa.update(User).values(email=User.username + "@example.gov.cn"))
    session.commit()


def notes(session, **filters) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(sa.select(Notification).filter_by(**filters).order_by(Notification.id)))


def received_by(session, **filters) -> dict[str, list[str]]:
    """username -> titles of their notifications."""
    people: dict[str, list[str]] = {}
    for note in notes(session, **filters):
        people.setdefault(note.user, []).append(note.title)
    return people
