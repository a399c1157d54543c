"""The process designer's back end: drafts, validation pinned to elements, deploy, versions,
diff, rollback, export and import of BPMN files (the modeler page is built on this API)."""


def init_app(app):
    from backend.designer import models, views  # noqa: F401  (tables)

    app.register_blueprint(views.bp)
    from backend.designer import pages

    app.register_blueprint(pages.bp)
    from backend.designer import forms_views

    app.register_blueprint(forms_views.bp)
