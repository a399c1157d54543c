"""GET /healthz: 200 when the database and the broker answer, 503 naming what is down."""

from backend import create_app
from backend.jobs import broker


def test_healthy(app, session):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "backend": session.get_bind().dialect.name}
    assert body["checks"]["broker"]["ok"] is True


def test_unreachable_database_and_broker_give_503(app, tmp_path):
    broken = create_app(
        {
            "TESTING": True,
            # A directory is not a database file: every query fails.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "EMBEDDED_WORKERS": False,
        }
    )
    try:
        response = broken.test_client().get("/healthz")
    finally:
        broker.configure(app)  # the broker is process-wide: give it back to the suite's app
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert body["checks"]["broker"] == {
        "ok": False,
        "backend": "redis",
        "error": body["checks"]["broker"]["error"],
    }
    assert "Connection" in body["checks"]["broker"]["error"]


def test_each_request_chooses_its_transaction_mode(app):
    """Server threads are reused: a GET must not leave the next POST beginning deferred."""
    from backend.db import _sqlite_begin

    with app.test_request_context("/healthz", method="GET"):
        app.preprocess_request()
        assert _sqlite_begin.get() == "BEGIN"
        with app.test_request_context("/x", method="POST"):
            app.preprocess_request()
            assert _sqlite_begin.get() == "BEGIN IMMEDIATE"
