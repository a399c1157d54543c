"""Languages of the UI: Chinese by default, English on request (flask-babel).

Message ids are the Chinese texts themselves (`_("待办")`): a string nobody has translated
yet still shows correctly in Chinese, and the English catalogue in
`backend/translations/en/LC_MESSAGES/messages.po` maps them. The choice is kept in the
session (`/lang/<code>`); without one, the browser's Accept-Language picks between the two.
"""

import logging
from urllib.parse import urlsplit

import flask_babel
from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_app_context,
    has_request_context,
    redirect,
    request,
    session,
)
from flask_babel import Babel, get_locale

from backend.i18n.catalogues import catalogue_files, is_stale

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
# The value of <html lang> for each language of the UI.
HTML_LANG = {"zh": "zh-CN", "en": "en"}

log = logging.getLogger(__name__)

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    if not has_request_context():  # jobs and CLI commands: the default language
        return DEFAULT
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


@bp.get("/lang/<code>")
def switch(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_back_to(request.args.get("next")) or _back_to(request.referrer) or "/")


def _back_to(target: str | None) -> str | None:
    """`target` if it is a page of this site (the referrer may name our own host), else None:
    the switch must never be an open redirect."""
    if not target or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None  # browsers read `/\evil` and `/<tab>/evil` as another host
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel.init_app(app, locale_selector=select_locale)
    # flask-babel resolves the catalogue again on every _() (about 25 µs; an inbox page makes
    # ~170 calls): templates look it up once per request and locale instead.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _request_translations().ugettext(s),
        ngettext=lambda s, p, n: _request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _request_translations().unpgettext(c, s, p, n),
    )
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["html_lang"] = lambda: HTML_LANG[current_language()]
    for language, po, mo in catalogue_files():
        if is_stale(po, mo):
            log.warning("%s 的界面翻译未编译或已过期: 运行 make translations (%s)", language, mo)


def _request_translations():
    """The catalogue of this request's locale, kept on `g` with the locale it was for (a
    language switch in the same context gets a new one)."""
    if not has_request_context():
        return flask_babel.get_translations()
    locale = flask_babel.get_locale()
    cached = g.get("_i18n_translations")
    if cached is None or cached[0] is not locale:
        cached = g._i18n_translations = (locale, flask_babel.get_translations())
    return cached[1]


def gettext(string: str, **variables) -> str:
    """flask-babel's gettext; in an app without flask-babel (the forms package used alone)
    the Chinese text itself."""
    if has_app_context() and "babel" in current_app.extensions:
        return flask_babel.gettext(string, **variables)
    return string % variables if variables else string


class LazyJoin:
    """Lazy texts joined when shown, each (and the separator) in the language of that moment."""

    def __init__(self, parts, separator):
        self.parts, self.separator = list(parts), separator

    def __str__(self) -> str:
        return str(self.separator).join(str(p) for p in self.parts)


def current_language() -> str:
    """The UI language of this request ('zh' or 'en')."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT
