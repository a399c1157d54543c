"""PostgreSQL guards for the migration (the lead's revision runs `op.execute(sql)` for each of
`install_statements()`; `drop_statements()` in downgrade). Tests get them from `create_all`.

- audit_record: UPDATE is always refused; DELETE of a row younger than the retention period
  (AUDIT_RETENTION_DAYS, at least 180) is refused. The period is baked into the function when
  it is installed: re-run `install_statements(days)` after changing it.
- ledger_leaf and ledger_checkpoint: UPDATE and DELETE are always refused (hashes are kept for
  good: a purged audit row's leaf stays, so the tree still verifies).
TRUNCATE is not row-level: the migration also REVOKEs it from the application role if that role
is not the owner (deployment note in docs).
"""

from backend.audit.service import MIN_RETENTION_DAYS, retention_days


def install_statements(days: int | None = None) -> list[str]:
    days = max(MIN_RETENTION_DAYS, int(days if days is not None else retention_days()))
    return [
        f"""
CREATE OR REPLACE FUNCTION audit_record_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_record is append-only: UPDATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.at > (now() AT TIME ZONE 'UTC') - interval '{days} days' THEN
        RAISE EXCEPTION 'audit_record % is younger than the retention period ({days} days): DELETE refused', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS audit_record_guard ON audit_record",
        "CREATE TRIGGER audit_record_guard BEFORE UPDATE OR DELETE ON audit_record "
        "FOR EACH ROW EXECUTE FUNCTION audit_record_guard()",
        """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS ledger_leaf_append_only ON ledger_leaf",
        "CREATE TRIGGER ledger_leaf_append_only BEFORE UPDATE OR DELETE ON ledger_leaf "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        "DROP TRIGGER IF EXISTS ledger_checkpoint_append_only ON ledger_checkpoint",
        "CREATE TRIGGER ledger_checkpoint_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoint "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
    ]


def drop_statements() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS audit_record_guard ON audit_record",
        "DROP TRIGGER IF EXISTS ledger_leaf_append_only ON ledger_leaf",
        "DROP TRIGGER IF EXISTS ledger_checkpoint_append_only ON ledger_checkpoint",
        "DROP FUNCTION IF EXISTS audit_record_guard()",
        "DROP FUNCTION IF EXISTS ledger_append_only()",
    ]


def attach_to_metadata() -> None:
    """Install the guards whenever `create_all` makes the tables on PostgreSQL (tests)."""
    from sqlalchemy import event

    from backend.audit.models import AuditRecord

    # On the metadata: fires once after create_all has made every table.
    metadata = AuditRecord.metadata
    if not event.contains(metadata, "after_create", _after_create):
        event.listen(metadata, "after_create", _after_create)


def _after_create(metadata, connection, **kw) -> None:
    if connection.dialect.name != "postgresql":
        return
    names = {t.name for t in kw.get("tables") or metadata.sorted_tables}
    if not {"audit_record", "ledger_leaf", "ledger_checkpoint"} <= names:
        return
    from sqlalchemy import text

    for sql in install_statements():
        connection.execute(text(sql))
