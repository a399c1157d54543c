"""Admin pages for webhooks (/admin/webhooks): inbound hooks and their recent calls,
outbound subscriptions and their deliveries. Secrets are shown once, on the page that
answers the create or rotate; they never pass through the session (flash)."""

import json
import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from backend.authz import forbidden, has_permission
from backend.extensions import db
from backend.webhooks import outbound, service
from backend.webhooks.models import (
    ACTIONS,
    DELIVERY_STATES,
    EVENT_TYPES,
    InboundHook,
    WebhookDelivery,
    WebhookSubscription,
)

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks", template_folder="templates")
log = logging.getLogger("backend.webhooks")


@bp.before_request
@login_required
def _admins_only():
    if not has_permission(current_user, "config.manage"):
        return forbidden()


@bp.get("")
def index():
    state = request.args.get("state") if request.args.get("state") in DELIVERY_STATES else None
    return render_template(
        "webhooks/index.html",
        hooks=service.list_hooks(session=db.session),
        inbound=service.recent_deliveries(session=db.session),
        subscriptions=outbound.list_subscriptions(session=db.session),
        deliveries=outbound.recent_deliveries(session=db.session, state=state),
        state=state,
        states=DELIVERY_STATES,
    )


# --- inbound hooks ------------------------------------------------------------------------


@bp.route("/hooks/new", methods=["GET", "POST"])
def new_hook():
    form = _hook_form_defaults()
    problems: dict[str, str] = {}
    if request.method == "POST":
        form, config, problems = _read_hook_form()
        if not problems:
            try:
                hook, secret = service.create_hook(
                    session=db.session, name=form["name"].strip(), created_by=current_user.username, **config
                )
            except service.HookConfigInvalid as exc:
                db.session.rollback()
                problems = exc.problems
            else:
                db.session.commit()
                log.info("webhook.hook_created", extra={"hook": hook.name, "actor": current_user.username})
                return render_template(
                    "webhooks/secret.html", what=_("入站接口"), name=hook.name, secret=secret
                )
    return render_template(
        "webhooks/hook_form.html", form=form, problems=problems, hook=None, actions=ACTIONS
    )


@bp.route("/hooks/<int:hook_id>", methods=["GET", "POST"])
def edit_hook(hook_id: int):
    hook = db.session.get(InboundHook, hook_id) or abort(404)
    form = _hook_form_of(hook)
    problems: dict[str, str] = {}
    if request.method == "POST":
        form, config, problems = _read_hook_form()
        form["name"] = hook.name
        if not problems:
            try:
                service.update_hook(session=db.session, hook=hook, **config)
            except service.HookConfigInvalid as exc:
                db.session.rollback()
                problems = exc.problems
            else:
                db.session.commit()
                flash(_("已保存"), "success")
                return redirect(url_for("webhooks.edit_hook", hook_id=hook.id))
    return render_template(
        "webhooks/hook_form.html",
        form=form,
        problems=problems,
        hook=hook,
        actions=ACTIONS,
        deliveries=service.recent_deliveries(session=db.session, hook_id=hook.id),
    )


@bp.post("/hooks/<int:hook_id>/rotate")
def rotate_hook(hook_id: int):
    hook = db.session.get(InboundHook, hook_id) or abort(404)
    secret = service.rotate_hook_secret(session=db.session, hook=hook)
    db.session.commit()
    log.info("webhook.hook_secret_rotated", extra={"hook": hook.name, "actor": current_user.username})
    return render_template("webhooks/secret.html", what=_("入站接口"), name=hook.name, secret=secret)


def _hook_form_defaults() -> dict:
    return {
        "name": "",
        "description": "",
        "action": "start",
        "target": "",
        "variables": "{}",
        "payload_schema": "{}",
        "business_key_pointer": "",
        "correlation_key_pointer": "",
        "enabled": True,
        "replay_window_seconds": "300",
        "max_body_bytes": str(1024 * 1024),
    }


def _hook_form_of(hook: InboundHook) -> dict:
    return {
        "name": hook.name,
        "description": hook.description,
        "action": hook.action,
        "target": hook.target,
        "variables": json.dumps(hook.variables or {}, ensure_ascii=False, indent=2),
        "payload_schema": json.dumps(hook.payload_schema or {}, ensure_ascii=False, indent=2),
        "business_key_pointer": hook.business_key_pointer or "",
        "correlation_key_pointer": hook.correlation_key_pointer or "",
        "enabled": hook.enabled,
        "replay_window_seconds": str(hook.replay_window_seconds),
        "max_body_bytes": str(hook.max_body_bytes),
    }


def _read_hook_form() -> tuple[dict, dict, dict[str, str]]:
    f = request.form
    form = {key: f.get(key, "") for key in _hook_form_defaults()}
    form["enabled"] = f.get("enabled") == "on"
    problems: dict[str, str] = {}
    config = {
        "description": form["description"].strip(),
        "action": form["action"],
        "target": form["target"].strip(),
        "business_key_pointer": form["business_key_pointer"].strip() or None,
        "correlation_key_pointer": form["correlation_key_pointer"].strip() or None,
        "enabled": form["enabled"],
    }
    for key in ("variables", "payload_schema"):
        try:
            config[key] = json.loads(form[key] or "{}")
        except ValueError as exc:
            problems[key] = _("不是有效的 JSON: %(error)s", error=str(exc))
    for key in ("replay_window_seconds", "max_body_bytes"):
        try:
            config[key] = int(form[key])
        except ValueError:
            problems[key] = _("请填写整数")
    return form, config, problems


# --- outbound subscriptions ---------------------------------------------------------------


@bp.route("/subscriptions/new", methods=["GET", "POST"])
def new_subscription():
    form = {"url": "", "description": "", "event_types": [], "enabled": True, "max_attempts": "8"}
    problems: dict[str, str] = {}
    if request.method == "POST":
        form, config, problems = _read_subscription_form()
        if not problems:
            try:
                subscription, secret = outbound.create_subscription(
                    session=db.session, created_by=current_user.username, **config
                )
            except outbound.SubscriptionInvalid as exc:
                db.session.rollback()
                problems = exc.problems
            else:
                db.session.commit()
                log.info(
                    "webhook.subscription_created",
                    extra={"subscription_id": subscription.id, "actor": current_user.username},
                )
                return render_template(
                    "webhooks/secret.html", what=_("事件订阅"), name=subscription.url, secret=secret
                )
    return render_template(
        "webhooks/subscription_form.html",
        form=form,
        problems=problems,
        subscription=None,
        event_types=EVENT_TYPES,
    )


@bp.route("/subscriptions/<int:subscription_id>", methods=["GET", "POST"])
def edit_subscription(subscription_id: int):
    subscription = db.session.get(WebhookSubscription, subscription_id) or abort(404)
    form = {
        "url": subscription.url,
        "description": subscription.description,
        "event_types": list(subscription.event_types or []),
        "enabled": subscription.enabled,
        "max_attempts": str(subscription.max_attempts),
    }
    problems: dict[str, str] = {}
    if request.method == "POST":
        form, config, problems = _read_subscription_form()
        if not problems:
            try:
                outbound.update_subscription(session=db.session, subscription=subscription, **config)
            except outbound.SubscriptionInvalid as exc:
                db.session.rollback()
                problems = exc.problems
            else:
                db.session.commit()
                flash(_("已保存"), "success")
                return redirect(url_for("webhooks.edit_subscription", subscription_id=subscription.id))
    return render_template(
        "webhooks/subscription_form.html",
        form=form,
        problems=problems,
        subscription=subscription,
        event_types=EVENT_TYPES,
    )


@bp.post("/subscriptions/<int:subscription_id>/rotate")
def rotate_subscription(subscription_id: int):
    subscription = db.session.get(WebhookSubscription, subscription_id) or abort(404)
    secret = outbound.rotate_subscription_secret(session=db.session, subscription=subscription)
    db.session.commit()
    log.info(
        "webhook.subscription_secret_rotated",
        extra={"subscription_id": subscription.id, "actor": current_user.username},
    )
    return render_template("webhooks/secret.html", what=_("事件订阅"), name=subscription.url, secret=secret)


def _read_subscription_form() -> tuple[dict, dict, dict[str, str]]:
    f = request.form
    form = {
        "url": f.get("url", "").strip(),
        "description": f.get("description", "").strip(),
        "event_types": f.getlist("event_types"),
        "enabled": f.get("enabled") == "on",
        "max_attempts": f.get("max_attempts", ""),
    }
    problems: dict[str, str] = {}
    config = {key: form[key] for key in ("url", "description", "event_types", "enabled")}
    try:
        config["max_attempts"] = int(form["max_attempts"])
    except ValueError:
        problems["max_attempts"] = _("请填写整数")
    return form, config, problems


# --- deliveries ---------------------------------------------------------------------------


@bp.get("/deliveries/<int:delivery_id>")
def delivery(delivery_id: int):
    row = db.session.get(WebhookDelivery, delivery_id) or abort(404)
    return render_template("webhooks/delivery.html", delivery=row)


@bp.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    try:
        outbound.redeliver(session=db.session, delivery_id=delivery_id)
    except outbound.DeliveryNotRedeliverable:
        db.session.rollback()
        flash(_("只有失败 (dead) 的投递可以重新投递"), "warning")
    else:
        db.session.commit()
        log.info(
            "webhook.redeliver_requested", extra={"delivery_id": delivery_id, "actor": current_user.username}
        )
        flash(_("已重新排队投递"), "success")
    return redirect(url_for("webhooks.delivery", delivery_id=delivery_id))
