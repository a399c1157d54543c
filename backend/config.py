"""Configuration from environment variables (documented in README.md)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bpm.sqlite3'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Empty means the embedded broker and in-process workers (make run); set for production.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    PROCESSES_DIR = os.environ.get("PROCESSES_DIR", str(ROOT / "processes"))
    FORMS_DIR = os.environ.get("FORMS_DIR", str(ROOT / "forms"))
    FILES_DIR = os.environ.get("FILES_DIR", str(ROOT / "var" / "files"))
    # Embedded scheduler thread and job workers; production runs them as separate processes.
    EMBEDDED_WORKERS = _bool("EMBEDDED_WORKERS", True)
    SCHEDULER_INTERVAL_SECONDS = float(os.environ.get("SCHEDULER_INTERVAL_SECONDS", "5"))
    # Sandbox: a BPMN script or expression that runs longer is stopped and becomes an incident.
    SCRIPT_TIME_LIMIT_SECONDS = float(os.environ.get("SCRIPT_TIME_LIMIT_SECONDS", "2"))
    # Service tasks: automatic retries by the job system before an incident is raised.
    SERVICE_TASK_RETRIES = int(os.environ.get("SERVICE_TASK_RETRIES", "3"))
    SERVICE_TASK_BACKOFF_SECONDS = float(os.environ.get("SERVICE_TASK_BACKOFF_SECONDS", "10"))
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Links in e-mails are absolute: the address people reach the platform at.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:5000")
    # E-mail of notifications through SMTP; empty MAIL_SERVER means in-app notifications only.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # STARTTLS after connecting
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)  # TLS from the first byte (port 465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@example.gov.cn")
    MAIL_TIMEOUT_SECONDS = float(os.environ.get("MAIL_TIMEOUT_SECONDS", "10"))
    TIMEZONE = "Asia/Shanghai"
