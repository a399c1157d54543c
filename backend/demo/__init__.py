"""Demo data for `make run`, loaded idempotently by `flask demo load`."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from backend.extensions import db

demo_cli = AppGroup("demo", help="演示数据 (Demo data).")

# Each domain adds its loader here as it grows; a loader must be idempotent.
LOADERS: list = []
_LAST: list = []  # loaders over what every other domain's loader made


def loader(fn=None, *, last: bool = False):
    """Register a loader (`@loader`), or one that runs after all the others (`@loader(last=True)`)."""

    def register(fn):
        (_LAST if last else LOADERS).append(fn)
        return fn

    return register(fn) if fn is not None else register


@demo_cli.command("load")
def load_command():
    """Load the demo data; running it twice changes nothing."""
    for fn in [*LOADERS, *_LAST]:
        created = fn(session=db.session)
        db.session.commit()
        click.echo(f"{fn.__doc__.strip() if fn.__doc__ else fn.__name__}: {created} new")


def print_banner(app, url: str) -> None:
    from backend.org.models import User
    from backend.workflow.models import ProcessDefinition

    with app.app_context():
        processes = db.session.scalars(sa.select(ProcessDefinition.key).distinct()).all()
    backend = "Redis + dramatiq" if app.config["REDIS_URL"] else "embedded broker, in-process workers"
    click.echo("")
    click.echo("  重点项目管理平台 (Key-project BPM platform)")
    click.echo(f"  URL:       {url}")
    click.echo(f"  Health:    {url}healthz")
    click.echo(f"  Database:  {db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"  Jobs:      {backend}")
    click.echo(f"  Processes: {', '.join(sorted(processes)) or '(none deployed)'}")
    with app.app_context():
        users = db.session.execute(
            sa.select(User.username, User.display_name, User.roles).order_by(User.id)
        ).all()
    if users:
        from backend.accounts.demo import DEMO_PASSWORD

        click.echo(f"  Demo accounts (password {DEMO_PASSWORD}, to be changed at first sign-in):")
        for username, name, roles in users:
            click.echo(f"    {username:<16} {name:<8} {', '.join(roles or [])}")
        from backend.accounts.demo import DEMO_TOTP_SECRET

        click.echo("  Admins and department heads also need a TOTP code (second factor): add the demo")
        click.echo(f"  secret {DEMO_TOTP_SECRET} to an authenticator app (Microsoft/Google")
        click.echo("  Authenticator, FreeOTP), or print the current code with:")
        click.echo(f"    .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\"")
    click.echo("")


def init_app(app):
    app.cli.add_command(demo_cli)
