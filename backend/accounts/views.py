"""Sign-in, sign-out, password change and the signed-in home page (thin: rules are in service.py)."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from backend.accounts import service
from backend.accounts.errors import AccountError, InvalidCredentials
from backend.extensions import db

bp = Blueprint("accounts", __name__, template_folder="templates")

# Reachable while an initial password is still in use; every other page sends the person to change it.
_OPEN_WHILE_PASSWORD_MUST_CHANGE = {
    "accounts.change_password",
    "accounts.logout",
    "vendor.asset",
    "static",
    "i18n.switch",
}


@bp.before_app_request
def _initial_password_first():
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in _OPEN_WHILE_PASSWORD_MUST_CHANGE
        and request.blueprint != "health"
    ):
        return redirect(url_for("accounts.change_password", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
@login_required
def home():
    return redirect(url_for("tasks.inbox"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    if request.method == "GET":
        return render_template("accounts/login.html", username="")
    username = request.form.get("username", "")
    try:
        user = service.authenticate(
            session=db.session, username=username, password=request.form.get("password", "")
        )
    except InvalidCredentials as exc:
        return render_template("accounts/login.html", username=username, error=str(exc)), 401
    db.session.commit()
    language = session.get("lang")
    session.clear()  # nothing from before sign-in carries over (session fixation)...
    if language:
        session["lang"] = language  # ...but the language chosen on the sign-in page
    login_user(user, remember=False)
    if user.must_change_password:
        flash(_("首次登录请修改初始密码"), "warning")
        return redirect(url_for("accounts.change_password", next=_safe_next(request.args.get("next"))))
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("您已安全退出"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "GET":
        return render_template("accounts/password.html")
    if request.form.get("new_password", "") != request.form.get("confirm_password", ""):
        return render_template("accounts/password.html", error=_("两次输入的新密码不一致")), 400
    try:
        service.change_password(
            user=current_user,
            current_password=request.form.get("current_password", ""),
            new_password=request.form.get("new_password", ""),
        )
    except AccountError as exc:
        return render_template("accounts/password.html", error=str(exc)), 400
    db.session.commit()
    flash(_("密码已修改"), "success")
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next` must never send a person to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("accounts.home")
