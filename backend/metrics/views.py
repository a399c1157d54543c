import hmac

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.extensions import db
from backend.metrics import http, state

bp = Blueprint("metrics", __name__)

_LOCAL = {"127.0.0.1", "::1"}


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    # Behind a reverse proxy every caller looks local: set METRICS_TOKEN there.
    return request.remote_addr in _LOCAL


@bp.get("/metrics")
def metrics():
    if not _allowed():
        abort(403)
    body = generate_latest(http.registry(current_app)) + generate_latest(state.registry(db.session))
    return Response(body, content_type=CONTENT_TYPE_LATEST)
