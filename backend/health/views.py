from flask import Blueprint, jsonify
from sqlalchemy import text

from backend.extensions import db
from backend.jobs import broker_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = {"database": _database_status(), "broker": broker_status()}
    healthy = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), (200 if healthy else 503)


def _database_status() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # any failure means not ready; report it, never raise
        db.session.rollback()
        return {"ok": False, "backend": db.engine.dialect.name, "error": str(exc)[:200]}
