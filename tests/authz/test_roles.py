"""The catalogue, the seeded grants and the installation commands."""

import sqlalchemy as sa

from backend import demo
from backend.authz import has_permission, permissions_of, require_permission, role_grants
from backend.authz.demo import load_roles
from backend.authz.models import Role, RolePermission
from backend.authz.permissions import ADMIN_ROLES, DEFAULT_GRANTS, PERMISSIONS, ROLE_NAMES


def test_every_default_grant_names_a_catalogued_permission():
    assert set(DEFAULT_GRANTS) == set(ROLE_NAMES)
    for role, perms in DEFAULT_GRANTS.items():
        assert perms <= set(PERMISSIONS), role
    for name, label in PERMISSIONS.items():
        assert "." in name and label and not label.isascii(), name


def test_an_unknown_permission_is_a_programming_error():
    try:
        require_permission("no.such")
    except ValueError as exc:
        assert "no.such" in str(exc)
    else:
        raise AssertionError("require_permission accepted an unknown permission")


def test_the_demo_seeds_the_roles_once_and_keeps_later_changes(session, world):
    assert load_roles in demo.LOADERS
    assert load_roles(session=session) == len(ROLE_NAMES)
    session.commit()
    stored = {r.code for r in session.scalars(sa.select(Role))}
    assert stored == set(ROLE_NAMES)
    assert role_grants(session=session) == DEFAULT_GRANTS
    # The security admin's change survives a re-seed.
    session.execute(sa.delete(RolePermission).where(RolePermission.role == "expert"))
    session.commit()
    assert load_roles(session=session) == 0
    assert role_grants(session=session)["expert"] == frozenset()
    assert not has_permission(world["expert"], "task.work")
    assert has_permission(world["reviewer"], "task.work")


def test_inactive_and_anonymous_people_hold_nothing(session, world):
    world["reviewer"].active = False
    assert permissions_of(world["reviewer"]) == frozenset()
    assert permissions_of(None) == frozenset()


def test_roles_commands(app, session, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["roles", "seed"])
    assert result.exit_code == 0, result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Role)) == len(ROLE_NAMES)
    # An account with a business role cannot become an admin; an empty one can.
    refused = runner.invoke(args=["roles", "admin", "reviewer", "auditadmin"])
    assert refused.exit_code != 0 and "兼任" in refused.output
    world["hz_reviewer"].roles = []
    session.commit()
    made = runner.invoke(args=["roles", "admin", "hz_reviewer", "auditadmin"])
    assert made.exit_code == 0, made.output
    session.expire_all()
    assert world["hz_reviewer"].roles == ["auditadmin"]
    assert set(ADMIN_ROLES) >= set(world["hz_reviewer"].roles)


def test_the_security_admin_adds_a_role_and_grants_it(app, session, world):
    client = world.client(app, "secadmin")
    assert (
        client.post("/admin/roles/new", data={"code": "auditor_city", "name": "市级审计"}).status_code == 303
    )
    assert client.post("/admin/roles/new", data={"code": "bad code!", "name": "x"}).status_code == 303
    client.post("/admin/roles/auditor_city", data={"permission": ["project.read", "export.data"]})
    user = world["hz_reviewer"]
    client.post(f"/admin/roles/users/{user.id}", data={"role": ["auditor_city"]})
    session.expire_all()
    assert {r.code for r in session.scalars(sa.select(Role).where(Role.builtin.is_(False)))} == {
        "auditor_city"
    }
    assert permissions_of(session.get(type(user), user.id)) == {"project.read", "export.data"}
    page = client.get("/admin/roles").get_data(as_text=True)
    assert 'data-role="auditor_city"' in page and "角色代码只能由字母" in page
