"""Electronic signatures (电子签章, issue 7): SM2 signatures of the heads' countersign decisions
and of the issued 批复, their seals, and their verification by anyone with the public key."""


def init_app(app):
    from backend.esign import hooks, models, views  # noqa: F401  (listeners, tables)

    app.register_blueprint(views.bp)
    app.add_template_global(views.seal_svg, "esign_seal")
