"""Key projects and their application documents."""


def init_app(app):
    # Tables, operations, and the demo loader (actual starts, acceptances).
    from backend.projects import demo, models, operations, views  # noqa: F401

    app.register_blueprint(views.bp)  # /projects and the project hub

    from backend.files import access as file_access
    from backend.projects import completion

    file_access.register_reader(completion.readable_files)  # 竣工验收 documents: the project's scope
