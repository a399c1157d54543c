"""Operations cockpit (运维监控台): find instances, see one with its diagram, and repair it
(retry, cancel, suspend/resume, edit a variable), every action audited."""


def init_app(app):
    from backend.cockpit import views

    app.register_blueprint(views.bp)
