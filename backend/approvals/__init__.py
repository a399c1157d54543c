"""Approval rounds, opinions and issued approval documents (批复); the applicant's pages."""


def init_app(app):
    from backend.approvals import demo, hooks, models, operations, views  # noqa: F401  (tables, operations, demo)

    app.register_blueprint(views.bp)
    app.context_processor(views.sign_queue_badge)
