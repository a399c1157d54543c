"""The reviewers' inbox: task tabs, and the operations on a task that need no engine
(claim, transfer, delegate, copy, urge) with their log and notifications; the inbox,
task and notification pages."""


def init_app(app):
    from backend.tasks import drafts, models, views  # noqa: F401  (register the tables)

    app.register_blueprint(views.bp)
    app.context_processor(views.unread_badge)
