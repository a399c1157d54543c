"""flask risk import FILE.jsonl [--source NAME]: load project histories.

`risk_cli` is the group; the model's commands (train, backtest) are added to it by
backend/risk's model module. Each command is one unit of work and commits once at its end.
"""

import click
from flask.cli import AppGroup

from backend.extensions import db
from backend.risk.history import read_jsonl
from backend.risk.store import DEFAULT_SOURCE, save_histories

risk_cli = AppGroup("risk", help="风险预警 (Risk early warning: histories, model, back-test).")


@risk_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--source",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="Name the histories are kept under; (source, project_id) is unique.",
)
def import_command(file, source):
    """Load histories (one JSON object per line); malformed lines are reported, the rest loaded."""
    histories, errors = read_jsonl(file)
    result = save_histories(session=db.session, histories=histories, source=source)
    db.session.commit()
    click.echo(
        f"loaded={result.loaded} created={result.created} updated={result.updated} "
        f"unchanged={result.unchanged} rejected={len(errors)} source={source}"
    )
    for number, message in errors:
        click.echo(f"line {number}: {message}", err=True)
    if not histories:
        click.echo("没有可导入的项目历史 (nothing loaded)", err=True)
        raise SystemExit(1)


def _read_or_exit(file):
    histories, errors = read_jsonl(file)
    for number, message in errors:
        click.echo(f"{file} line {number}: {message}", err=True)
    return histories


@risk_cli.command("train")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL instead of the stored histories.",
)
@click.option(
    "--source",
    default=None,
    help="Only stored histories of this source (default: every source and the platform's finished projects).",
)
@click.option("--seed", default=0, show_default=True, type=int)
def train_command(file, source, seed):
    """Train the delay model on finished histories and save it as the next version."""
    from backend.risk.model import RiskModelError, save, train
    from backend.risk.store import load_histories

    if file:
        histories = _read_or_exit(file)
    elif source:
        histories = load_histories(session=db.session, source=source)
    else:  # what the scheduled retraining uses: every source plus the platform's own projects
        from backend.db import utcnow
        from backend.risk.retrain import SHANGHAI, training_histories

        histories = training_histories(session=db.session, as_of=utcnow().astimezone(SHANGHAI).date())
    try:
        model = train(histories, seed=seed)
    except RiskModelError as exc:
        raise click.ClickException(str(exc)) from None
    path = save(model)
    card = model.card
    click.echo(
        f"version={card['version']} projects={card['n_projects']} late={card['n_late']} "
        f"rows={card['n_rows']} cv_auc={card['metrics']['cv_auc']} path={path}"
    )


@risk_cli.command("backtest")
@click.option("--train", "train_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--test", "test_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--seed", default=0, show_default=True, type=int)
def backtest_command(train_file, test_file, seed):
    """Train on --train only, score --test at 25/50/75% of the planned duration; one line each."""
    from backend.risk.backtest import run
    from backend.risk.model import RiskModelError

    try:
        out = run(_read_or_exit(train_file), _read_or_exit(test_file), seed=seed)
    except RiskModelError as exc:
        raise click.ClickException(str(exc)) from None
    for line in out:
        click.echo(line)
