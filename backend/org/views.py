"""GET /people/search: the people pickers' source (JSON). Thin: the query is in people.py."""

from flask import Blueprint, jsonify, request
from flask_login import login_required

from backend.extensions import db
from backend.org import people

bp = Blueprint("org", __name__)


@bp.get("/people/search")
@login_required
def search_people():
    found = people.search(
        session=db.session,
        query=request.args.get("q", "")[:60],
        group=request.args.get("group", "")[:120],
    )
    return jsonify(people=found)
