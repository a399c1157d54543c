"""三员分立: the system, security and audit admins each do their own work only, none acts on
business tasks, none grants itself (or anyone) an admin role; the security admin's changes are
data (the role tables) and are audited."""

import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.authz import has_permission, permissions_of
from backend.authz.models import RolePermission
from backend.authz.service import seed_roles
from backend.workflow.models import HumanTask

from .conftest import HZ_PROJECT

OWN_PAGES = {
    "sysadmin": ["/admin/users", "/admin/api-keys", "/admin/webhooks"],
    "secadmin": ["/admin/roles"],
    "auditadmin": ["/admin/audit"],
}


def test_each_admin_gets_their_own_pages_and_is_refused_the_others(app, world):
    for admin in OWN_PAGES:
        client = world.client(app, admin)
        for owner, others in OWN_PAGES.items():
            for page in others:
                status = client.get(page).status_code
                if owner == admin:
                    assert status == 200, (admin, page, status)
                else:
                    assert status == 403, (admin, page, status)


def test_the_refusal_page_is_in_the_users_language(app, world):
    client = world.client(app, "secadmin")
    assert "无权访问" in client.get("/admin/users").get_data(as_text=True)
    client.get("/lang/en")
    assert "Forbidden" in client.get("/admin/users").get_data(as_text=True)


def _open_task(session, world) -> HumanTask:
    return session.scalar(
        sa.select(HumanTask).where(
            HumanTask.instance_id == world.instances[HZ_PROJECT], HumanTask.state == "open"
        )
    )


def test_no_admin_acts_on_business_tasks(app, session, flows):
    task = _open_task(session, flows)
    for admin in ("sysadmin", "secadmin", "auditadmin"):
        # Even with the task's group among their roles' groups the action is refused.
        client = flows.client(app, admin)
        assert client.post(f"/tasks/{task.id}/claim").status_code == 403
        assert client.post(f"/tasks/{task.id}", data={"approved": "on"}).status_code == 403
        assert client.post(f"/api/v1/tasks/{task.id}/claim").status_code == 403
        assert (
            client.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"approved": True}}).status_code
            == 403
        )
        started = client.post(
            "/api/v1/instances",
            json={"process_key": "scoped_review", "business_key": HZ_PROJECT, "variables": {}},
        )
        assert started.status_code == 403
        assert client.get("/applications/new").status_code == 403
        assert client.post("/sign", data={"only": task.id}).status_code == 403
    session.expire_all()
    again = session.get(HumanTask, task.id)
    assert (again.state, again.assignee) == ("open", None)
    # The reviewer may (the refusals above are about who asks, not the task).
    assert flows.client(app, "reviewer").post(f"/tasks/{task.id}/claim").status_code in (302, 303)
    session.expire_all()
    assert session.get(HumanTask, task.id).assignee == "reviewer"


def test_stored_business_grants_never_reach_an_admin(session, world):
    seed_roles(session=session)
    session.add(RolePermission(role="sysadmin", permission="task.work"))
    session.add(RolePermission(role="reviewer", permission="roles.manage"))
    session.commit()
    assert not has_permission(world["sysadmin"], "task.work")
    assert not has_permission(world["reviewer"], "roles.manage")  # admin-only: through its admin role only
    assert has_permission(world["sysadmin"], "accounts.manage")
    assert permissions_of(world["secadmin"]) == {"roles.manage"}
    assert permissions_of(world["auditadmin"]) >= {"audit.read", "audit.export"}


def _roles_of(session, user):
    session.expire_all()
    return session.get(type(user), user.id).roles


def test_the_security_admin_cannot_make_anyone_an_admin(app, session, world):
    client = world.client(app, "secadmin")
    me = world["secadmin"]
    # Not themselves: neither another admin role nor a business role.
    for roles in (["secadmin", "sysadmin"], ["auditadmin"], ["reviewer"]):
        client.post(f"/admin/roles/users/{me.id}", data={"role": roles})
        assert _roles_of(session, me) == ["secadmin"]
    # Nobody else becomes an admin, nor loses an admin role here.
    reviewer = world["reviewer"]
    for roles in (["sysadmin"], ["reviewer", "auditadmin"]):
        client.post(f"/admin/roles/users/{reviewer.id}", data={"role": roles})
        assert _roles_of(session, reviewer) == ["reviewer"]
    sysadmin = world["sysadmin"]
    client.post(f"/admin/roles/users/{sysadmin.id}", data={"role": ["reviewer"]})
    assert _roles_of(session, sysadmin) == ["sysadmin"]
    refused = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "role.assign")).all()
    assert refused == []  # nothing changed, nothing recorded as changed


def test_role_changes_are_data_and_audited(app, session, flows):
    client = flows.client(app, "secadmin")
    task = _open_task(session, flows)
    # Revoke task.work from reviewers: the reviewer can no longer claim.
    keep = sorted(permissions_of(flows["reviewer"]) - {"task.work"})
    assert client.post("/admin/roles/reviewer", data={"permission": keep}).status_code == 303
    assert flows.client(app, "reviewer").post(f"/tasks/{task.id}/claim").status_code == 403
    # Give it back, and give the Hangzhou reviewer the inspector role too.
    client.post("/admin/roles/reviewer", data={"permission": [*keep, "task.work"]})
    hz = flows["hz_reviewer"]
    assert (
        client.post(f"/admin/roles/users/{hz.id}", data={"role": ["reviewer", "inspector"]}).status_code
        == 303
    )
    assert _roles_of(session, hz) == ["reviewer", "inspector"]
    assert flows.client(app, "reviewer").post(f"/tasks/{task.id}/claim").status_code in (302, 303)

    rows = session.execute(
        sa.select(AuditRecord.action, AuditRecord.username, AuditRecord.object_id, AuditRecord.detail)
        .where(AuditRecord.action.like("role.%"))
        .order_by(AuditRecord.id)
    ).all()
    assert [(r.action, r.username, r.object_id) for r in rows] == [
        ("role.revoke", "secadmin", "reviewer"),
        ("role.grant", "secadmin", "reviewer"),
        ("role.assign", "secadmin", "hz_reviewer"),
    ]
    assert rows[0].detail["permission"] == "task.work"
    assert rows[2].detail["added"] == ["inspector"]


def test_admin_grants_are_fixed_and_admin_permissions_stay_with_their_role(app, session, world):
    client = world.client(app, "secadmin")
    client.post("/admin/roles/secadmin", data={"permission": ["roles.manage", "audit.read"]})
    client.post("/admin/roles/auditadmin", data={"permission": []})
    client.post("/admin/roles/reviewer", data={"permission": ["project.read", "accounts.manage"]})
    session.expire_all()
    assert not has_permission(world["secadmin"], "audit.read")
    assert has_permission(world["auditadmin"], "audit.read")
    assert not has_permission(world["reviewer"], "accounts.manage")
    assert has_permission(world["reviewer"], "task.work")  # the refused change changed nothing
    assert "管理员角色的权限是固定的" in client.get("/admin/roles").get_data(as_text=True)


def test_business_people_are_refused_the_admin_pages(app, world):
    for role in ("reviewer", "head", "operator", "designer", "owner"):
        client = world.client(app, role)
        for page in ("/admin/roles", "/admin/users", "/admin/audit", "/admin/api-keys", "/admin/webhooks"):
            assert client.get(page).status_code == 403, (role, page)
