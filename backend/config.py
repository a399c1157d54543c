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
    # Risk early warning: versioned model files (every web and worker container must see the same
    # folder), the Beijing hour of the daily evaluation, days between automatic retrainings.
    RISK_MODEL_DIR = os.environ.get("RISK_MODEL_DIR", str(ROOT / "var" / "risk"))
    RISK_EVALUATE_HOUR = int(os.environ.get("RISK_EVALUATE_HOUR", "6"))
    RISK_RETRAIN_DAYS = int(os.environ.get("RISK_RETRAIN_DAYS", "7"))
    # Leadership cockpit: its figures are answered from stored snapshots (backend/kpi/snapshot.py)
    # recomputed every N seconds for running periods and every M seconds for ended ones (late
    # corrections); 0 turns snapshots off and every figure is computed on request.
    KPI_SNAPSHOT_INTERVAL = int(os.environ.get("KPI_SNAPSHOT_INTERVAL", "600"))
    KPI_SNAPSHOT_ENDED_INTERVAL = int(os.environ.get("KPI_SNAPSHOT_ENDED_INTERVAL", "3600"))
    # Reading an application document (backend/ocr): at most this many pages and seconds.
    OCR_MAX_PAGES = int(os.environ.get("OCR_MAX_PAGES", "50"))
    OCR_TIME_LIMIT_SECONDS = float(os.environ.get("OCR_TIME_LIMIT_SECONDS", "120"))
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
    # Commercial cryptography (backend/crypto, issue 7). SM4 master key for encrypted fields and
    # stored private keys (32 hex); empty: a development key file in the instance folder.
    SM4_MASTER_KEY = os.environ.get("SM4_MASTER_KEY", "")
    SM4_OLD_MASTER_KEYS = os.environ.get("SM4_OLD_MASTER_KEYS", "")  # comma-separated, decrypt only
    # Process variables stored SM4-encrypted and shown masked besides forms' x-mask fields (name: kind).
    SENSITIVE_VARIABLES = {"contact_phone": "phone", "id_card": "id_card", "bank_account": "bank_account"}
    PLATFORM_SM2_KEY = os.environ.get("PLATFORM_SM2_KEY", "")  # 64 hex; empty: generated, kept encrypted
    # Ledgers (backend/ledger) and the audit log (backend/audit), issue 7: Merkle hash of new
    # ledgers (sm3 | sha256), signed checkpoint every N seconds (0: only on demand), and the
    # audit retention in days (never below 180: lower values are raised to 180).
    LEDGER_HASH_ALG = os.environ.get("LEDGER_HASH_ALG", "sm3")
    LEDGER_CHECKPOINT_INTERVAL_SECONDS = float(os.environ.get("LEDGER_CHECKPOINT_INTERVAL_SECONDS", "3600"))
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "180"))
    # Former platform public keys (hex, comma-separated) whose old checkpoints still verify.
    LEDGER_TRUSTED_PUBLIC_KEYS = os.environ.get("LEDGER_TRUSTED_PUBLIC_KEYS", "")
    # Evidence ledger (backend/evidence): the file anchor's JSON lines; empty: instance/evidence-anchor.jsonl.
    EVIDENCE_ANCHOR_FILE = os.environ.get("EVIDENCE_ANCHOR_FILE", "")
    # Authentication controls (backend/accounts, issue 7).
    PASSWORD_MAX_AGE_DAYS = int(os.environ.get("PASSWORD_MAX_AGE_DAYS", "90"))
    PASSWORD_HISTORY = int(os.environ.get("PASSWORD_HISTORY", "5"))  # last N may not be reused
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))  # per account and per address
    LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15"))
    LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "15"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    # Roles that must use the TOTP second factor; others may turn it on.
    TOTP_REQUIRED_ROLES = os.environ.get("TOTP_REQUIRED_ROLES", "sysadmin,secadmin,auditadmin,head")
    # Hardening (backend/security). Secure cookies whenever the platform is reached over HTTPS.
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", PUBLIC_BASE_URL.startswith("https://"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https" if PUBLIC_BASE_URL.startswith("https://") else "http"
    # Proxies in front whose X-Forwarded-For/-Proto/-Host are trusted (nginx in front: 1).
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "0"))
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))  # sent on HTTPS requests only
    RATE_LIMIT_ENABLED = _bool("RATE_LIMIT_ENABLED", True)
    # Sign-in POSTs (password, second factor) per source address, and per address and name.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "60/60")
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "10/60")
    WEBHOOK_RATE_LIMIT = os.environ.get("WEBHOOK_RATE_LIMIT", "36000/60")  # calls per hook
    # Outbound webhooks reach public addresses only (backend/webhooks/egress.py); set to
    # deliver to the platform's own intranet on purpose.
    WEBHOOK_ALLOW_PRIVATE_TARGETS = _bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(110 * 1024 * 1024)))
