"""`POST /api/v1/hooks/<name>`: signed inbound calls. Authenticated by the HMAC signature,
not by a session or an API key, hence exempt from CSRF."""

import logging

from flask import Blueprint, Response, json, request
from flask_babel import gettext as _

from backend.api.problems import problem
from backend.extensions import db
from backend.webhooks import service
from backend.webhooks.service import HookRejected

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/hooks")
log = logging.getLogger("backend.webhooks")

READ_CHUNK = 64 * 1024


@bp.post("/<name>")
def receive(name: str):
    hook = service.find_hook(session=db.session, name=name)
    try:
        if hook is None or not hook.enabled:
            raise HookRejected(404, "unknown_hook", f"没有名为 {name} 的已启用接口")
        body = _read_body(hook.max_body_bytes)
        outcome = service.receive(
            session=db.session,
            hook=hook,
            body=body,
            timestamp=request.headers.get("X-Timestamp"),
            signature=request.headers.get("X-Signature"),
            idempotency_key=request.headers.get("Idempotency-Key"),
            remote_addr=request.remote_addr,
        )
    except HookRejected as rejected:
        db.session.rollback()
        log.warning(
            "webhook.inbound.rejected",
            extra={
                "hook": name,
                "status": rejected.status,
                "code": rejected.code,
                "reason": rejected.message,
                "fields": sorted(rejected.errors),
                "remote_addr": request.remote_addr,
                "idempotency_key": request.headers.get("Idempotency-Key"),
            },
        )
        return problem(
            rejected.status,
            _title(rejected.code),
            rejected.message,
            errors=rejected.errors or None,
            code=rejected.code,
        )
    db.session.commit()
    if outcome.replayed:
        log.info(
            "webhook.inbound.replayed",
            extra={"hook": name, "delivery_id": outcome.body["delivery_id"], "status": outcome.status},
        )
    response = Response(
        json.dumps(outcome.body, ensure_ascii=False), status=outcome.status, mimetype="application/json"
    )
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _read_body(limit: int) -> bytes:
    """At most limit + 1 bytes are read: a longer body is refused without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise HookRejected(413, "body_too_large", f"请求体超过 {limit} 字节")
    stream = request.stream
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise HookRejected(413, "body_too_large", f"请求体超过 {limit} 字节")
    return b"".join(chunks)


def _title(code: str) -> str | None:
    """Titles in the caller's language; the detail (Chinese) says exactly what was wrong."""
    titles = {
        "unknown_hook": _("接口不存在或已停用"),
        "body_too_large": _("请求体过大"),
        "missing_timestamp": _("缺少时间戳"),
        "stale_timestamp": _("时间戳已过期"),
        "bad_signature": _("签名无效"),
        "missing_idempotency_key": _("缺少幂等键"),
        "idempotency_key_too_long": _("幂等键过长"),
        "malformed_json": _("请求体不是有效的 JSON"),
        "idempotency_key_reused": _("幂等键已用于不同的请求"),
        "mapping_failed": _("请求数据无法映射为流程变量"),
        "no_receiver": _("没有等待该消息的流程实例"),
        "workflow_refused": _("流程引擎拒绝了该请求"),
    }
    return titles.get(code)
