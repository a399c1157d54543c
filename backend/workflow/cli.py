"""flask processes deploy|list, flask scheduler run, flask serve."""

import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from backend.engine import DefinitionError
from backend.extensions import db
from backend.workflow.deploy import deploy_files, read_directory
from backend.workflow.models import ProcessDefinition

processes_cli = AppGroup("processes", help="部署与查看流程定义 (Deploy and list process definitions).")
scheduler_cli = AppGroup("scheduler", help="定时器调度 (Timer scheduler).")


@processes_cli.command("deploy")
@click.option("--dir", "directory", default=None, help="Folder of .bpmn/.dmn files (default: PROCESSES_DIR).")
@click.option("--by", "deployed_by", default="cli", show_default=True)
def deploy_command(directory, deployed_by):
    """Parse, validate and store every changed process; refuse all on any problem."""
    files = read_directory(directory or current_app.config["PROCESSES_DIR"])
    if not files:
        click.echo("没有找到 .bpmn 文件, 未部署任何流程 (no .bpmn files found)")
        return
    try:
        result = deploy_files(
            session=db.session,
            files=files,
            forms_dir=current_app.config["FORMS_DIR"],
            deployed_by=deployed_by,
        )
    except DefinitionError as exc:
        db.session.rollback()
        click.echo(f"部署失败, 共 {len(exc.problems)} 个问题, 未部署任何流程:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    for d in result.created:
        click.echo(f"deployed  {d.key} v{d.version} {d.content_hash[:12]}")
    for d in result.unchanged:
        click.echo(f"unchanged {d.key} v{d.version} {d.content_hash[:12]}")


@processes_cli.command("list")
def list_command():
    """Print key, version, hash and deploy time of every version."""
    rows = db.session.execute(
        sa.select(
            ProcessDefinition.key,
            ProcessDefinition.version,
            ProcessDefinition.content_hash,
            ProcessDefinition.deployed_at,
            ProcessDefinition.name,
        ).order_by(ProcessDefinition.key, ProcessDefinition.version)
    ).all()
    click.echo(f"{'key':<28} {'ver':>4}  {'hash':<12}  {'deployed at (UTC)':<20}  name")
    for key, version, content_hash, deployed_at, name in rows:
        click.echo(f"{key:<28} {version:>4}  {content_hash[:12]}  {deployed_at:%Y-%m-%d %H:%M:%S}  {name}")


@scheduler_cli.command("run")
@click.option("--interval", type=float, default=None, help="Seconds between passes.")
def scheduler_run(interval):
    """Run the timer scheduler and outbox relay in the foreground (production)."""
    from backend.workflow.scheduler import run_forever

    app = current_app._get_current_object()
    run_forever(app, interval=interval or app.config["SCHEDULER_INTERVAL_SECONDS"])


@scheduler_cli.command("tick")
def scheduler_tick():
    """One scheduler pass (enqueue due timers, relay the outbox)."""
    from backend.workflow.scheduler import tick

    click.echo(f"due timers: {tick(current_app._get_current_object())}")
