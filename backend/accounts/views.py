"""Sign-in (password, then the TOTP step), sign-out, password change, the account page and
the second factor's enrollment (thin: rules are in service.py, lockout.py, totp.py, sessions.py)."""

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from backend.accounts import lockout, service, sessions, totp
from backend.accounts.errors import AccountError, AccountLocked, InvalidCredentials
from backend.audit import record
from backend.authz import has_permission
from backend.extensions import db

bp = Blueprint("accounts", __name__, template_folder="templates")

# Reachable while an initial or expired password is still in use, or while a person who must
# use the second factor has not enrolled; every other page sends the person there first.
_OPEN_WHILE_SETTING_UP = {
    "accounts.change_password",
    "accounts.totp_setup",
    "accounts.logout",
    "vendor.asset",
    "static",
    "i18n.switch",
}

_ENDED = {
    "idle": _l("长时间未操作, 会话已超时, 请重新登录"),
    "absolute": _l("会话已达到最长时限, 请重新登录"),
    "version": _l("您的密码已修改或账号已在别处退出, 请重新登录"),
}


@bp.before_app_request
def _setup_first():
    if not current_user.is_authenticated or request.endpoint in _OPEN_WHILE_SETTING_UP:
        return None
    if request.blueprint == "health":
        return None
    target = request.full_path.rstrip("?")
    if current_user.must_change_password:
        return redirect(url_for("accounts.change_password", next=target))
    if totp.is_required(current_user) and not totp.uses_totp(current_user):
        return redirect(url_for("accounts.totp_setup", next=target))
    return None


@bp.get("/")
@login_required
def home():
    # Leaders work no tasks: their start page is the cockpit (everyone else's is the inbox).
    if has_permission(current_user, "kpi.view") and not has_permission(current_user, "task.work"):
        return redirect(url_for("kpi.index"))
    return redirect(url_for("tasks.inbox"))


def _address() -> str | None:
    return request.remote_addr


def _locked_page(exc: AccountLocked, username: str):
    return render_template("accounts/login.html", username=username, error=str(exc), locked=True), 429


def _refuse_if_locked(username: str):
    lock = lockout.current_lock(session=db.session, username=username, address=_address())
    if lock is None:
        return None
    record(
        "auth.login",
        result="failure",
        username=username,
        detail={"reason": "locked", "scope": lock.scope},
    )
    db.session.commit()
    return _locked_page(AccountLocked(lock.scope, lock.minutes_left()), username)


def _count_failure(username: str, kind: str):
    """A failed step: counted toward the lockout and audited; the lockout page when it locks."""
    lockout.record_attempt(
        session=db.session, username=username, address=_address(), kind=kind, success=False
    )
    record("auth.login", result="failure", username=username, detail={"reason": kind})
    lock = lockout.current_lock(session=db.session, username=username, address=_address())
    if lock is not None:
        record(
            "auth.lockout",
            result="failure",
            username=username,
            detail={"scope": lock.scope, "until": lock.until.isoformat(), "address": _address()},
        )
    db.session.commit()
    if lock is not None:
        session.pop(sessions.PENDING, None)
        return _locked_page(AccountLocked(lock.scope, lock.minutes_left()), username)
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    if request.method == "GET":
        ended = sessions.take_ended_reason()
        notice = str(_ENDED[ended]) if ended in _ENDED else None
        return render_template("accounts/login.html", username="", notice=notice)
    username = request.form.get("username", "")[:60]  # no longer username exists (app_user.username)
    refused = _refuse_if_locked(username)
    if refused is not None:
        return refused
    try:
        user = service.authenticate(
            session=db.session, username=username, password=request.form.get("password", "")
        )
    except InvalidCredentials as exc:
        locked = _count_failure(username, "password")
        if locked is not None:
            return locked
        return render_template("accounts/login.html", username=username, error=str(exc)), 401
    next_url = _safe_next(request.args.get("next"))
    if totp.uses_totp(user):
        db.session.commit()  # a rehashed password
        sessions.clear_keeping_language()
        session[sessions.PENDING] = {"uid": user.id, "at": time.time(), "next": next_url}
        return redirect(url_for("accounts.verify"))
    return _complete_sign_in(user, next_url, via="password")


def _complete_sign_in(user, next_url: str, *, via: str):
    lockout.record_attempt(
        session=db.session, username=user.username, address=_address(), kind=via, success=True
    )
    lockout.purge_old(session=db.session)
    service.signed_in(user=user)
    expired = not user.must_change_password and service.expire_if_old(user=user)
    record("auth.login", user=user, detail={"via": via})
    db.session.commit()
    sessions.clear_keeping_language()
    login_user(user, remember=False)
    sessions.start(user)
    if expired:
        flash(
            _("密码已超过 %(n)s 天未修改, 请先修改密码", n=current_app.config["PASSWORD_MAX_AGE_DAYS"]),
            "warning",
        )
    elif user.must_change_password:
        flash(_("首次登录请修改初始密码"), "warning")
    if user.must_change_password:
        return redirect(url_for("accounts.change_password", next=next_url))
    if totp.is_required(user) and not totp.uses_totp(user):
        return redirect(url_for("accounts.totp_setup", next=next_url))
    return redirect(next_url)


def _pending_user():
    pending = session.get(sessions.PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > sessions.PENDING_SECONDS:
        return None, None
    user = service.get_user(session=db.session, user_id=pending.get("uid", 0))
    if user is None or not user.active or not totp.uses_totp(user):
        return None, None
    return user, pending


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    """The second step: a code from the authenticator app, or a recovery code."""
    user, pending = _pending_user()
    if user is None:
        session.pop(sessions.PENDING, None)
        flash(_("请重新登录"), "warning")
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return render_template("accounts/verify.html")
    refused = _refuse_if_locked(user.username)
    if refused is not None:
        session.pop(sessions.PENDING, None)
        return refused
    code = request.form.get("code", "")
    digits = "".join(code.split())
    if len(digits) == 6 and digits.isdigit():  # recovery codes are 10 characters
        via = "totp"
        ok = totp.check_code(user=user, code=digits)
    else:
        via = "recovery"
        ok = totp.use_recovery_code(session=db.session, user=user, code=code)
    if not ok:
        locked = _count_failure(user.username, via)
        if locked is not None:
            return locked
        return render_template("accounts/verify.html", error=_("动态口令错误或已使用, 请重试")), 401
    response = _complete_sign_in(user, pending.get("next") or url_for("accounts.home"), via=via)
    if via == "recovery":
        left = totp.recovery_codes_left(session=db.session, user=user)
        flash(_("已使用一个恢复码, 还剩 %(n)s 个; 请尽快在账号安全页面重新生成", n=left), "warning")
    return response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        # Ends this session for good: a copy of its cookie is refused from now on.
        service.end_sessions(user=user)
        record("auth.logout", user=user)
        db.session.commit()
    logout_user()
    sessions.clear_keeping_language()
    flash(_("您已安全退出"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "GET":
        return render_template("accounts/password.html")
    if request.form.get("new_password", "") != request.form.get("confirm_password", ""):
        return render_template("accounts/password.html", error=_("两次输入的新密码不一致")), 400
    user = current_user._get_current_object()
    try:
        service.change_password(
            user=user,
            current_password=request.form.get("current_password", ""),
            new_password=request.form.get("new_password", ""),
        )
    except AccountError as exc:
        db.session.rollback()
        record("auth.password_change", result="failure", user=user, detail={"reason": type(exc).__name__})
        db.session.commit()
        return render_template("accounts/password.html", error=str(exc)), 400
    record("auth.password_change", user=user)
    db.session.commit()
    # The person's other sessions have ended (session_version); this one goes on, renewed.
    sessions.clear_keeping_language()
    login_user(user, remember=False)
    sessions.start(user)
    flash(_("密码已修改"), "success")
    return redirect(_safe_next(request.args.get("next")))


@bp.get("/account")
@login_required
def account():
    user = current_user._get_current_object()
    max_age = current_app.config["PASSWORD_MAX_AGE_DAYS"]
    return render_template(
        "accounts/account.html",
        user=user,
        uses_totp=totp.uses_totp(user),
        totp_required=totp.is_required(user),
        codes_left=totp.recovery_codes_left(session=db.session, user=user) if totp.uses_totp(user) else 0,
        max_age=max_age,
    )


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def totp_setup():
    """Enroll the second factor: a QR code and the secret as text, then one code to confirm."""
    user = current_user._get_current_object()
    next_url = _safe_next(request.args.get("next"), default=url_for("accounts.account"))
    if totp.uses_totp(user):
        return redirect(url_for("accounts.account"))
    secret = totp.start_enrollment(user=user)
    db.session.commit()
    page = {
        "secret": secret,
        "qr": totp.qr_svg(totp.provisioning_uri(user=user, secret=secret)),
        "required": totp.is_required(user),
    }
    if request.method == "GET":
        return render_template("accounts/totp_setup.html", **page)
    codes = totp.confirm_enrollment(session=db.session, user=user, code=request.form.get("code", ""))
    if codes is None:
        return render_template(
            "accounts/totp_setup.html", error=_("动态口令错误, 请核对手机时间后重试"), **page
        ), 400
    record("auth.totp_enable", user=user)
    db.session.commit()
    return render_template("accounts/recovery_codes.html", codes=codes, next_url=next_url)


def _confirm_password(user) -> bool:
    return service.check_password(user=user, password=request.form.get("password", ""))


@bp.post("/account/2fa/disable")
@login_required
def totp_disable():
    user = current_user._get_current_object()
    if totp.is_required(user):
        flash(_("您的角色必须使用动态口令, 不能关闭"), "danger")
        return redirect(url_for("accounts.account"))
    if not _confirm_password(user):
        flash(_("当前密码不正确"), "danger")
        return redirect(url_for("accounts.account"))
    totp.disable(session=db.session, user=user)
    record("auth.totp_disable", user=user)
    db.session.commit()
    flash(_("已关闭动态口令"), "info")
    return redirect(url_for("accounts.account"))


@bp.post("/account/2fa/recovery-codes")
@login_required
def recovery_codes():
    user = current_user._get_current_object()
    if not totp.uses_totp(user) or not _confirm_password(user):
        flash(_("当前密码不正确"), "danger")
        return redirect(url_for("accounts.account"))
    codes = totp.new_recovery_codes(session=db.session, user=user)
    record("auth.recovery_codes", user=user)
    db.session.commit()
    return render_template("accounts/recovery_codes.html", codes=codes, next_url=url_for("accounts.account"))


def _safe_next(target: str | None, default: str | None = None) -> str:
    """Only a path on this site: `next` must never send a person to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return default or url_for("accounts.home")
