"""The construction site (移动端打卡与施工日志) of issue 8: the project's geofence, phone
check-ins with photos whose EXIF time and GPS are checked (flags, never silent), background
thumbnails, the daily construction log as typed rows, managers' spot-check feeds and live
check-in requests with a time limit."""

import os

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.site import models, service, views  # noqa: F401  (models: the tables; service: the job)
    from backend.workflow import scheduler

    for key, default in service.DEFAULTS.items():
        app.config.setdefault(key, type(default)(os.environ.get(key, default)))
    app.register_blueprint(views.bp)
    scheduler.on_tick(service.tick)  # live requests past their limit → 超时未响应
    from backend.site import demo  # noqa: F401  (registers its loader)
