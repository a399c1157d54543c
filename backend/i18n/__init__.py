"""Languages of the UI: Chinese by default, English on request (flask-babel).

Message ids are the Chinese texts themselves (`_("待办")`): a string nobody has translated
yet still shows correctly in Chinese, and the English catalogue in
`backend/translations/en/LC_MESSAGES/messages.po` maps them. The choice is kept in the
session (`/lang/<code>`); without one, the browser's Accept-Language picks between the two.
"""

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


@bp.get("/lang/<code>")
def switch(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.args.get("next") or request.referrer or "/"
    # Only a path of this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return redirect(target)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
