"""The public progress page of issue 8 (项目进度查询): /p/<code> without sign-in (an allowlisted
view model: no money, people, opinions or documents), its QR code for the site board, photos
chosen for publication (re-encoded without EXIF), citizens' moderated ratings and comments
(`service.satisfaction` feeds the satisfaction KPI), and the staff page
/projects/<code>/publication."""

from flask import Flask

DEFAULTS = {
    "PUBLIC_RATE_LIMIT": "60/60",  # page, QR, feedback form: per address (salted hash)
    "PUBLIC_PHOTO_RATE_LIMIT": "600/60",  # a page shows several photos
    "PUBLIC_FEEDBACK_RATE_LIMIT": "5/600",  # comments sent per address
    "PUBLIC_PAGE_CACHE_SECONDS": 60,  # rendered page kept in this process
    "PUBLIC_MAX_AGE": 60,  # Cache-Control max-age of the page
    "PUBLIC_IP_SALT": "",  # empty: derived from SECRET_KEY
}


def init_app(app: Flask) -> None:
    from backend.publicpage import admin, models, views  # noqa: F401  (models: the tables)

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
