"""User-task forms: JSON Schema files in forms/ rendered to Bootstrap HTML, posted data
parsed back per the schema, and validated with field-level Chinese messages."""

from flask import Blueprint


def init_app(app):
    """`render_form` callable from any template, and the `forms/` macros on the template path."""
    from backend.forms import models  # noqa: F401  (register the form_version table)
    from backend.forms.render import render_form

    app.jinja_env.globals["render_form"] = render_form
    if "babel" not in app.extensions and "_" not in app.jinja_env.globals:
        # An app without flask-babel: the macros' _() gives the Chinese text.
        app.jinja_env.add_extension("jinja2.ext.i18n")
        app.jinja_env.install_null_translations(newstyle=True)
    if "forms" not in app.blueprints:
        # No routes: the blueprint only puts templates/forms/ on the template path.
        app.register_blueprint(Blueprint("forms", __name__, template_folder="templates"))
