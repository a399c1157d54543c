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


@roles_cli.command("reset-admin")
@click.argument("username")
def reset_admin_command(username):
    """Give an administrator a new temporary password and clear their second factor (to be
    changed and enrolled again at the next sign-in). Console only: no admin may reset
    another admin's credentials in the browser."""
    from backend.accounts import service, totp
    from backend.accounts.admin import temporary_password
    from backend.audit import record
    from backend.authz import is_admin
    from backend.org.service import get_user

    user = get_user(session=db.session, username=username)
    if user is None or not is_admin(user):
        raise click.ClickException(f"not an administrator: {username}")
    password = temporary_password()
    service.set_password(user=user, password=password, must_change=True, enforce_policy=False)
    totp.disable(session=db.session, user=user)
    service.end_sessions(user=user)
    record(
        "user.password_reset",
        object_type="user",
        object_id=user.id,
        username="console",
        detail={"username": username},
    )
    db.session.commit()
    click.echo(f"{username}: temporary password {password} (must be changed at sign-in)")
