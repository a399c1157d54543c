"""Audit log (issue 7): every security event and business action, append-only, in a Merkle tree.

`record()` is the one entry point for the whole platform. Each record is a leaf of the "audit"
ledger (backend/ledger); `flask audit verify` recomputes everything; /admin/audit for the audit
admin. Business actions are recorded by hooks (backend/audit/hooks.py), not by each view.
"""


def record(
    action: str,
    *,
    result: str = "success",
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict | None = None,
    user=None,
    username: str | None = None,
    session=None,
) -> None:
    """Append one audit record in the caller's transaction (`session`, default db.session).

    action: dotted name, e.g. "auth.login", "auth.lockout", "task.complete", "approval.return",
    "deploy", "payment.release", "export", "config.change", "role.grant".
    result: "success" | "failure" | "denied". user: defaults to current_user in a request;
    username: for a failed login of an unknown or known name. The source address is taken from
    the request. Failures and refusals ("failure", "denied") are written in their own
    transaction once the caller's has ended, so a rollback (failed login) cannot erase them.
    """
    from backend.audit import service

    service.record(
        action,
        result=result,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        user=user,
        username=username,
        session=session,
    )


def init_app(app):
    from backend.audit import cli, ddl, hooks, models, service, views  # noqa: F401  (tables)

    service.install()
    hooks.install(app)
    ddl.attach_to_metadata()
    app.cli.add_command(cli.audit_cli)
    app.register_blueprint(views.bp)
