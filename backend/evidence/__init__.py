"""Evidence ledger (存证): key documents deposited as leaves of the "evidence" Merkle ledger,
proof bundles for the standalone verifier (verifier.py), and anchors for the checkpoints."""

import click


def init_app(app):
    from backend.evidence import hooks, jobs, models, service, views  # noqa: F401  (tables, listeners, jobs)

    app.config.setdefault("EVIDENCE_ANCHOR_FILE", "")
    app.register_blueprint(views.bp)
    app.cli.add_command(evidence_cli)


@click.group("evidence", help="存证账本")
def evidence_cli():
    pass


@evidence_cli.command("checkpoint", help="Sign the evidence ledger's head now and publish it to the anchors.")
def checkpoint_command():
    from backend.evidence import service
    from backend.extensions import db

    cp = service.make_checkpoint(session=db.session)
    db.session.commit()
    if cp is None:
        click.echo("evidence ledger is empty")
    else:
        click.echo(f"checkpoint #{cp.id}: tree size {cp.tree_size}, root {cp.root_hash} ({cp.hash_alg})")


@evidence_cli.command(
    "verify", help="Recompute the evidence ledger from the records; exit 1 naming the first problem."
)
def verify_command():
    from backend import ledger
    from backend.evidence import service
    from backend.extensions import db

    report = ledger.verify(session=db.session, ledger=service.LEDGER)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)
