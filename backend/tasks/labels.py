"""Template filter `group_name`: a candidate group's code in words (backend.org.groups),
looked up once per code and request."""

from flask import g

from backend.extensions import db
from backend.org.groups import GroupName, group_names


def group_name(code: str | None):
    if not code:
        return ""
    cache: dict[str, GroupName] = g.setdefault("_group_names", {})
    if code not in cache:
        cache.update(group_names(session=db.session, codes=[code]))
    return cache[code].label()


def init_app(app) -> None:
    app.add_template_filter(group_name, "group_name")
