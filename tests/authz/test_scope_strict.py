"""Strict data scope (issue 7): a person with no region is narrowed to their own unit and desk;
operators hold scope.all; a task offered to one's unit by name is seen; a department's queue
follows the region; what was sent to a person stays readable; out of scope is 404 in pages and
the API alike, and an API key's region narrows the owner's scope further."""

import re

import sqlalchemy as sa

from backend.api import keys
from backend.authz.scope import project_clause, scope_of, sees_project, sees_task
from backend.org.models import Department, Unit
from backend.projects.models import Project
from backend.tasks.models import TaskCopy
from backend.workflow.models import HumanTask

from .conftest import HZ_PROJECT, NB_PROJECT, _person


def _task(session, flows, code) -> HumanTask:
    return session.scalar(
        sa.select(HumanTask).where(HumanTask.instance_id == flows.instances[code], HumanTask.state == "open")
    )


def _listed(client, url) -> set[str]:
    return set(re.findall(r'data-task-id="([^"]+)"', client.get(url).get_data(as_text=True)))


def _unit(session, name) -> Unit:
    return session.scalar(sa.select(Unit).where(Unit.name == name))


def _codes(session, user) -> set[str]:
    return set(
        session.scalars(sa.select(Project.code).where(project_clause(scope_of(user, session=session))))
    )


def test_a_person_without_a_region_sees_only_their_units_projects(session, world):
    loose_owner = _person(session, "loose_owner", ["owner"], region=None, unit=_unit(session, "杭州城投"))
    nobody = _person(session, "nobody", ["expert"], region=None)
    session.commit()
    assert not scope_of(loose_owner, session=session).all
    assert _codes(session, loose_owner) == {HZ_PROJECT}
    projects = list(session.scalars(sa.select(Project)))
    assert {p.code for p in projects if sees_project(loose_owner, p, session=session)} == {HZ_PROJECT}
    # No region, no unit: no project at all.
    assert _codes(session, nobody) == set()
    assert not any(sees_project(nobody, p, session=session) for p in projects)


def test_operators_hold_scope_all_by_default(session, world):
    city_operator = _person(session, "city_operator", ["operator"], region="330100")
    session.commit()
    for user in (world["operator"], city_operator):
        assert scope_of(user, session=session).all
        assert _codes(session, user) == {HZ_PROJECT, NB_PROJECT}


def test_a_person_without_a_region_sees_only_their_desk(app, session, flows):
    loose = _person(session, "loose_reviewer", ["reviewer"], region=None)
    flows.people["loose_reviewer"] = loose
    session.commit()
    hz_task, nb_task = _task(session, flows, HZ_PROJECT), _task(session, flows, NB_PROJECT)
    client = flows.client(app, "loose_reviewer")
    # Both wait for his group, neither is in his scope.
    assert _listed(client, "/inbox?tab=group") == set()
    assert client.get(f"/tasks/{nb_task.id}").status_code == 404
    assert client.get("/api/v1/tasks?tab=candidate").get_json()["items"] == []
    nb_task.assignee = "loose_reviewer"
    session.commit()
    assert _listed(client, "/inbox?tab=mine") == {nb_task.id}
    assert client.get(f"/tasks/{nb_task.id}").status_code == 200
    assert sees_task(loose, nb_task, session=session)
    assert not sees_task(loose, hz_task, session=session)


def test_a_task_offered_to_ones_unit_by_name_is_seen(app, session, flows):
    builder = _unit(session, "浙江建工")
    loose = _person(session, "loose_builder", ["contractor"], region=None, unit=builder)
    flows.people["loose_builder"] = loose
    nb_task = _task(session, flows, NB_PROJECT)
    nb_task.candidate_group = f"unit.{builder.id}"
    session.commit()
    assert NB_PROJECT not in _codes(session, loose)  # not the unit's project
    assert sees_task(loose, nb_task, session=session)
    client = flows.client(app, "loose_builder")
    assert _listed(client, "/inbox?tab=group") == {nb_task.id}
    assert client.get(f"/tasks/{nb_task.id}").status_code == 200
    # Another unit's name does not open it.
    nb_task.candidate_group = f"unit.{_unit(session, '宁波轨交').id}"
    session.commit()
    assert not sees_task(loose, nb_task, session=session)


def test_a_departments_queue_follows_the_region(app, session, flows):
    fgw = session.scalar(sa.select(Department).where(Department.code == "fgw"))
    # Without a region of his own a department's reviewer takes the department's (the province).
    flows.people["fgw_staff"] = _person(session, "fgw_staff", ["reviewer"], region=None, department=fgw)
    flows.people["hz_head"] = _person(session, "hz_head", ["head"], region="330100", department=fgw)
    nb_task = _task(session, flows, NB_PROJECT)
    nb_task.candidate_group = "fgw.reviewer"
    session.commit()
    hz_task = _task(session, flows, HZ_PROJECT)  # still for the plain "reviewer" group
    assert _listed(flows.client(app, "fgw_staff"), "/inbox?tab=group") == {hz_task.id, nb_task.id}
    # A Hangzhou member of the provincial department: its queue for Hangzhou only.
    assert nb_task.id not in _listed(flows.client(app, "hz_reviewer"), "/inbox?tab=group")
    # The department's head reads its tasks, within his scope.
    assert flows.client(app, "hz_head").get(f"/tasks/{nb_task.id}").status_code == 404
    assert flows.client(app, "head").get(f"/tasks/{nb_task.id}").status_code == 200


def test_what_was_sent_to_a_person_stays_readable(app, session, flows):
    nb_task = _task(session, flows, NB_PROJECT)
    hz = flows.client(app, "hz_reviewer")
    assert hz.get(f"/tasks/{nb_task.id}").status_code == 404
    # He was told of it as one of the group's, hidden while out of his scope.
    assert f"/tasks/{nb_task.id}" not in hz.get("/notifications").get_data(as_text=True)
    session.add(
        TaskCopy(
            task_id=nb_task.id, instance_id=nb_task.instance_id, to_user="hz_reviewer", from_user="window"
        )
    )
    session.commit()
    assert hz.get(f"/tasks/{nb_task.id}").status_code == 200
    assert f"/tasks/{nb_task.id}" in hz.get("/notifications").get_data(as_text=True)


def test_out_of_scope_is_not_found_in_pages_and_api(app, session, flows):
    hz = flows.client(app, "hz_reviewer")
    nb_task = _task(session, flows, NB_PROJECT)
    nb_instance = flows.instances[NB_PROJECT]
    assert hz.get(f"/applications/{NB_PROJECT}").status_code == 404
    assert hz.get(f"/tasks/{nb_task.id}").status_code == 404
    for response in (
        hz.get(f"/api/v1/projects/{NB_PROJECT}"),
        hz.get(f"/api/v1/instances/{nb_instance}"),
        hz.post(f"/api/v1/tasks/{nb_task.id}/claim"),
        hz.post(f"/api/v1/tasks/{nb_task.id}/complete", json={"data": {}}),
    ):
        assert response.status_code == 404, response.get_data(as_text=True)
    assert NB_PROJECT not in {p["code"] for p in hz.get("/api/v1/projects").get_json()["items"]}
    assert nb_instance not in {i["id"] for i in hz.get("/api/v1/instances").get_json()["items"]}
    # An in-scope refusal stays a 403 (existence is no secret there).
    assert flows.client(app, "nb_owner").get(f"/applications/{NB_PROJECT}").status_code == 200


def _key(session, owner, region) -> dict:
    _row, secret = keys.create_key(
        session=session,
        name=f"{owner}-{region}",
        owner=owner,
        scopes=list(keys.SCOPES),
        region_code=region,
        created_by="sysadmin",
    )
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_an_api_key_is_bounded_by_its_owners_scope_and_its_region(app, session, flows):
    client = app.test_client()
    # The province key of an applicant with no region: their own unit's project only.
    flows.people["loose_owner"] = _person(
        session, "loose_owner", ["owner"], region=None, unit=_unit(session, "杭州城投")
    )
    session.commit()
    headers = _key(session, "loose_owner", "330000")
    listed = client.get("/api/v1/projects", headers=headers).get_json()["items"]
    assert [p["code"] for p in listed] == [HZ_PROJECT]
    assert client.get(f"/api/v1/projects/{NB_PROJECT}", headers=headers).status_code == 404
    # An operator sees everything; his Hangzhou key only Hangzhou.
    headers = _key(session, "operator", "330100")
    listed = client.get("/api/v1/projects", headers=headers).get_json()["items"]
    assert [p["code"] for p in listed] == [HZ_PROJECT]
    seen = {i["id"] for i in client.get("/api/v1/instances", headers=headers).get_json()["items"]}
    assert seen == {flows.instances[HZ_PROJECT]}
    assert client.get(f"/api/v1/instances/{flows.instances[NB_PROJECT]}", headers=headers).status_code == 404
    province = _key(session, "operator", "330000")
    seen = {i["id"] for i in client.get("/api/v1/instances", headers=province).get_json()["items"]}
    assert seen == set(flows.instances.values())
    # A task on the key owner's desk outside the key's region is not reachable with the key.
    nb_task = _task(session, flows, NB_PROJECT)
    nb_task.assignee = "hz_reviewer"
    session.commit()
    hz_key = _key(session, "hz_reviewer", "330100")
    assert client.post(f"/api/v1/tasks/{nb_task.id}/claim", headers=hz_key).status_code == 404
    mine = client.get("/api/v1/tasks?tab=todo", headers=hz_key).get_json()["items"]
    assert nb_task.id not in {t["id"] for t in mine}


def test_the_sql_filter_and_the_object_check_agree_for_tasks(session, flows):
    from backend.authz.scope import narrowed, task_clause, task_in
    from backend.org.service import descendant_codes

    nb_task = _task(session, flows, NB_PROJECT)
    nb_task.assignee = "hz_reviewer"
    flows.people["loose"] = _person(session, "loose", ["reviewer"], region=None)
    session.commit()
    hz = scope_of(flows["hz_reviewer"], session=session)
    hangzhou_key = narrowed(hz, regions=descendant_codes(session=session, code="330100"), whole_tree=False)
    tasks = list(session.scalars(sa.select(HumanTask)))
    for scope in (hz, hangzhou_key, scope_of(flows["loose"], session=session), scope_of(flows["reviewer"])):
        listed = set(session.scalars(sa.select(HumanTask.id).where(task_clause(scope))))
        assert listed == {t.id for t in tasks if task_in(scope, t, session=session)}
    # On his desk, but outside the key's region: not through the key.
    assert task_in(hz, nb_task, session=session)
    assert not task_in(hangzhou_key, nb_task, session=session)


def test_claiming_and_the_sign_queue_follow_the_scope(app, session, flows):
    from backend.approvals import signing

    fgw = session.scalar(sa.select(Department).where(Department.code == "fgw"))
    flows.people["hz_head"] = _person(session, "hz_head", ["head"], region="330100", department=fgw)
    hz_task, nb_task = _task(session, flows, HZ_PROJECT), _task(session, flows, NB_PROJECT)
    for task in (hz_task, nb_task):
        task.form, task.candidate_group = signing.HEAD_SIGN_FORM, "fgw.head"
    session.commit()
    assert signing.queue_count(session=session, user=flows["head"]) == 2
    assert signing.queue_count(session=session, user=flows["hz_head"]) == 1
    # Claiming a task of one's group out of one's scope (its id known) is refused as not found.
    flows.client(app, "hz_head").post(f"/tasks/{nb_task.id}/claim")
    session.expire_all()
    assert session.get(HumanTask, nb_task.id).assignee is None
    flows.client(app, "hz_head").post(f"/tasks/{hz_task.id}/claim")
    session.expire_all()
    assert session.get(HumanTask, hz_task.id).assignee == "hz_head"


def test_api_contracts_payments_and_tickets_follow_the_scope(app, session, world):
    from backend.contracts.models import Contract, Payment, PaymentMilestone
    from backend.db import utcnow
    from backend.tickets.models import Ticket

    builder = _unit(session, "浙江建工")
    for n, code in enumerate((HZ_PROJECT, NB_PROJECT), start=1):
        project = session.scalar(sa.select(Project).where(Project.code == code))
        contract = Contract(
            number=f"HT-{n}",
            name="施工合同",
            project_id=project.id,
            party_a_unit_id=project.owner_unit_id,
            party_b_unit_id=builder.id,
            amount="1000.00",
        )
        session.add(contract)
        session.flush()
        milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="第1期", amount="200.00")
        session.add(milestone)
        session.flush()
        session.add(
            Payment(
                number=f"ZF-{n}",
                contract_id=contract.id,
                milestone_id=milestone.id,
                amount="200",
                state="requested",
            )
        )
        session.add(
            Ticket(
                number=f"ZG-{n}",
                project_id=project.id,
                source="manual",
                category="quality",
                severity="general",
                description="问题",
                deadline=utcnow(),
                raised_by="inspector",
                status="raised",
            )
        )
    world.people["loose_owner"] = _person(
        session, "loose_owner", ["owner"], region=None, unit=_unit(session, "杭州城投")
    )
    session.commit()
    for username, expected in (("hz_reviewer", "1"), ("loose_owner", "1"), ("nb_owner", "2")):
        client = world.client(app, username)
        for url, prefix in (
            ("/api/v1/contracts", "HT-"),
            ("/api/v1/payments", "ZF-"),
            ("/api/v1/tickets", "ZG-"),
        ):
            items = client.get(url).get_json()["items"]
            assert [i["number"] for i in items] == [prefix + expected], (username, url)
    province = world.client(app, "reviewer").get("/api/v1/tickets").get_json()["items"]
    assert [i["number"] for i in province] == ["ZG-1", "ZG-2"]
