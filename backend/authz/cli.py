"""`flask roles ...`: seed the built-in roles (idempotent, safe after every migration) and name
the three administrators at installation (the security admin's page never assigns admin roles)."""

import click
from flask.cli import AppGroup

from backend.extensions import db

roles_cli = AppGroup("roles", help="角色和权限 (Roles and permissions).")


@roles_cli.command("seed")
def seed_command():
    """Insert the missing built-in roles with their default grants; stored grants are kept."""
    from backend.authz.service import seed_roles

    created = seed_roles(session=db.session)
    db.session.commit()
    click.echo(f"roles: {created} new")


@roles_cli.command("admin")
@click.argument("username")
@click.argument("role", type=click.Choice(["sysadmin", "secadmin", "auditadmin"]))
def admin_command(username, role):
    """Make USERNAME the ROLE administrator (the account must hold no other role)."""
    from backend.authz.service import AuthzError, make_admin
    from backend.org.service import get_user

    user = get_user(session=db.session, username=username)
    if user is None:
        raise click.ClickException(f"no such user: {username}")
    try:
        make_admin(session=db.session, user=user, role=role)
    except AuthzError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"{username}: {role}")
