"""flask audit verify | checkpoint | purge."""

import sys
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from backend import ledger
from backend.audit import service
from backend.extensions import db

audit_cli = AppGroup("audit", help="审计日志 (Audit log: verify the Merkle ledger, sign checkpoints).")


@audit_cli.command("verify")
@click.option("--ledger", "name", default=service.LEDGER, show_default=True, help="Ledger to verify.")
def verify_command(name):
    """Recompute every record's leaf, the tree and every checkpoint; exit 1 on any problem."""
    report = ledger.verify(session=db.session, ledger=name)
    db.session.rollback()
    if report.ok:
        click.echo(report.summary())
        click.echo(
            f"  records: {report.records_checked}, leaves: {report.leaves_checked}, checkpoints: {report.checkpoints_checked}"
        )
        return
    click.echo(report.summary(), err=True)
    for problem in report.problems[:50]:
        click.echo(f"  - {problem.message}", err=True)
    if len(report.problems) > 50:
        click.echo(f"  ... 另有 {len(report.problems) - 50} 个问题", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
@click.option("--ledger", "name", default=None, help="One ledger (default: every ledger).")
def checkpoint_command(name):
    """Sign a checkpoint of the ledger(s) now."""
    from backend.ledger.jobs import checkpoint_all

    if name:
        made = [ledger.checkpoint(session=db.session, ledger=name)]
    else:
        made = checkpoint_all(session=db.session)
    for cp in made:
        service.record(
            "audit.checkpoint",
            object_type="ledger_checkpoint",
            object_id=cp.id,
            detail={"ledger": cp.ledger, "tree_size": cp.tree_size, "root_hash": cp.root_hash},
            username="cli",
        )
    db.session.commit()
    for cp in made:
        click.echo(f"{cp.ledger}: #{cp.id} tree_size={cp.tree_size} root={cp.root_hash} ({cp.hash_alg}, SM2)")
    if not made:
        click.echo("没有需要签署的账本 (no ledger grew since its last checkpoint)")


@audit_cli.command("purge")
@click.option("--before", required=True, help="UTC date (YYYY-MM-DD): delete records older than this.")
def purge_command(before):
    """Delete audit records older than BEFORE; refused inside the retention period."""
    when = datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=UTC)
    try:
        count = service.purge(session=db.session, before=when)
    except service.RetentionError as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"已删除 {count} 条审计记录 (purged {count})")
