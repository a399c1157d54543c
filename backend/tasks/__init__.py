"""The reviewers' inbox: task tabs, and the operations on a task that need no engine
(claim, transfer, delegate, copy, urge) with their log and notifications."""


def init_app(app):
    from backend.tasks import models  # noqa: F401  (register the tables)
