"""Notifications by e-mail, through SMTP, when the platform has a mail server (MAIL_SERVER).

Each mail is an outbox job written in the notification's own transaction: it leaves after
commit and never holds up or breaks the request. A failing SMTP server is tried again with
the jobs' backoff (MAX_RETRIES); after the last try the row is 'dead', keeping its error for
`flask jobs` and a redeliver, and the failure is logged. A refused recipient is logged and
not retried: trying again would not change the answer.

The SMTP conversation runs between the job's two short transactions (`call_out`, see
backend.jobs.runner), never while holding the database; a worker killed after sending
sends again (at-least-once).
"""

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from backend import jobs
from backend.org.models import User

log = logging.getLogger("backend.tasks.mail")

SEND_MAIL = "tasks.send_mail"
MAX_RETRIES = 5

KIND_LABELS = {
    "new_task": "新待办",
    "returned": "退回",
    "urged": "催办",
    "reminded": "办理提醒",
    "cc": "抄送",
    "escalated": "逾期督办",
    "delegated": "委托",
    "transferred": "转办",
    "add_sign": "加签",
    "site_request": "实时打卡要求",
    "site_answered": "实时打卡已响应",
    "site_timeout": "实时打卡超时",
}


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """The default mailer: one SMTP connection per message (mails are few and far between)."""

    def __init__(self, config):
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.use_ssl = bool(config["MAIL_USE_SSL"])
        self.use_tls = bool(config["MAIL_USE_TLS"]) and not self.use_ssl
        self.username = config["MAIL_USERNAME"]
        self.password = config["MAIL_PASSWORD"]
        self.timeout = float(config["MAIL_TIMEOUT_SECONDS"])

    def send(self, message: EmailMessage) -> None:
        connect = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        with connect(self.host, self.port, timeout=self.timeout) as smtp:
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def queue_mail(*, session, notifications) -> int:
    """One mail job per notification whose person is active and has an e-mail address;
    nothing without MAIL_SERVER. Returns how many were queued."""
    if not notifications or not mail_enabled():
        return 0
    rows = session.execute(
        sa.select(User.username, User.email, User.display_name).where(
            User.username.in_(sorted({n.user for n in notifications})),
            User.email.is_not(None),
            User.email != "",
            User.active.is_(True),
        )
    ).all()
    people = {row.username: row for row in rows}
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    queued = 0
    for note in notifications:
        person = people.get(note.user)
        if person is None:
            continue
        jobs.enqueue(
            session=session,
            actor=SEND_MAIL,
            payload={
                "notification_id": note.id,
                "to": person.email,
                "subject": subject(note.kind, note.title),
                "body": body(person.display_name, note.title, absolute_link(base, note.link)),
            },
        )
        queued += 1
    return queued


def subject(kind: str, title: str) -> str:
    return f"【{KIND_LABELS.get(kind, '通知')}】{title}"[:200]


def absolute_link(base: str, link: str | None) -> str:
    if not link:
        return f"{base}/notifications"
    return link if "://" in link else f"{base}/{link.lstrip('/')}"


def body(display_name: str, title: str, link: str) -> str:
    return (
        f"{display_name}, 您好:\n\n"
        f"{title}\n\n"
        f"请登录平台查看和办理: {link}\n\n"
        "-- \n重点项目管理平台 (系统自动发送, 请勿回复)\n"
    )


def build_message(payload: dict, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("重点项目管理平台", sender))
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"notification-{payload.get('notification_id')}")
    message.set_content(payload["body"])
    return message


def mailer() -> Mailer:
    return SmtpMailer(current_app.config)


def _send(payload: dict) -> None:
    """The SMTP conversation, run by the jobs runner with no transaction open (a slow mail
    server must not hold the database)."""
    extra = {"notification_id": payload.get("notification_id"), "to": payload["to"]}
    try:
        mailer().send(build_message(payload, current_app.config["MAIL_FROM"]))
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        if _permanent(exc):
            log.error("mail.refused", extra={**extra, "error": str(exc)})
            return
        log.warning("mail.deferred", extra={**extra, "error": str(exc)})
        raise
    except (OSError, smtplib.SMTPException) as exc:
        # Raised for the jobs' retry; the runner logs each failure and marks the last one dead.
        log.warning("mail.failed", extra={**extra, "error": f"{type(exc).__name__}: {exc}"})
        raise
    log.info("mail.sent", extra=extra)


@jobs.job(
    SEND_MAIL, max_retries=MAX_RETRIES, min_backoff_seconds=60, max_backoff_seconds=3600, call_out=_send
)
def send_mail(payload: dict) -> dict | None:
    """The job's first phase: what to send, or None when mail was switched off since."""
    if not mail_enabled():
        extra = {"notification_id": payload.get("notification_id"), "to": payload["to"]}
        log.warning("mail.not_configured", extra=extra)  # MAIL_SERVER removed since it was queued
        return None
    return payload


def _permanent(exc: smtplib.SMTPException) -> bool:
    """5xx: the server will say the same next time; 4xx (mailbox busy, greylisting) may pass."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
    else:
        codes = [exc.smtp_code]
    return bool(codes) and all(code >= 500 for code in codes)
