"""The designer's pages: the processes list and the bpmn-js modeler. Everything they show or
change goes through the JSON API in views.py; these routes only render the shells."""

from functools import wraps

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

bp = Blueprint("designer_pages", __name__, template_folder="templates")

DESIGNER_ROLES = {"designer", "admin"}


def designer_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not DESIGNER_ROLES & set(current_user.roles or []):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("/designer")
@designer_required
def index():
    return render_template("designer/index.html")


@bp.get("/designer/new")
@designer_required
def new():
    return render_template("designer/modeler.html", key=None)


@bp.get("/designer/processes/<key>")
@designer_required
def modeler(key: str):
    return render_template("designer/modeler.html", key=key)
