"""Audit log (issue 7): every security event and business action, append-only, in a Merkle tree.

`record()` is the one entry point for the whole platform. Each record is a leaf of the "audit"
ledger (backend/ledger); `flask audit verify` recomputes everything; /admin/audit for the audit
admin. Business actions are recorded by hooks (backend/audit/hooks.py), not by each view.
"""


def record(action: str, **fields) -> None:
    """Append one audit record: see `backend.audit.service.record` for the fields (result,
    object_type, object_id, detail, user, username, session). Successes join the caller's
    transaction; failures and refusals are written in their own once it has ended, so a
    rollback (a failed login) cannot erase them. Imported lazily: the audit service needs the
    ledger and crypto packages, which themselves record."""
    from backend.audit import service

    service.record(action, **fields)


def init_app(app):
    from backend.audit import cli, ddl, hooks, models, service, views  # noqa: F401  (tables)

    service.install()
    hooks.install(app)
    ddl.attach_to_metadata()
    app.cli.add_command(cli.audit_cli)
    app.register_blueprint(views.bp)
