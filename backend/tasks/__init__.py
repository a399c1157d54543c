"""The reviewers' inbox: task tabs, and the operations on a task that need no engine
(claim, transfer, delegate, copy, urge) with their log and notifications (in-app, and by
e-mail when MAIL_SERVER is set); the inbox, task and notification pages."""


def init_app(app):
    # Tables, the workflow listeners (hooks) and the mail job register on import.
    from backend.tasks import drafts, hooks, labels, mail, models, views  # noqa: F401

    app.register_blueprint(views.bp)
    labels.init_app(app)
    app.context_processor(views.unread_badge)
