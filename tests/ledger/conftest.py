import sqlalchemy as sa


def tamper(session, sql: str, **params) -> None:
    """Change rows as an attacker with database access would (on PostgreSQL past the guards)."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    tables = ("ledger_leaf", "ledger_checkpoint")
    if pg:
        for t in tables:
            conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER USER")
    session.execute(sa.text(sql), params)
    if pg:
        for t in tables:
            conn.exec_driver_sql(f"ALTER TABLE {t} ENABLE TRIGGER USER")
