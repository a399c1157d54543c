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
    TIMEZONE = "Asia/Shanghai"
