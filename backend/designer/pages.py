"""The designer's pages: the processes list and the bpmn-js modeler. Everything they show or
change goes through the JSON API in views.py; these routes only render the shells."""

from flask import Blueprint, render_template

from backend.authz import require_permission

bp = Blueprint("designer_pages", __name__, template_folder="templates")


def designer_required(view):
    return require_permission("process.deploy")(view)


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
