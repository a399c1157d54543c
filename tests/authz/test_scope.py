"""Data scope: a Hangzhou (330100) reviewer sees Hangzhou's projects, instances and tasks (西湖区
included) and not Ningbo's, in pages and the API alike; province people see both."""

import re

import sqlalchemy as sa

from backend.api import keys
from backend.authz.scope import project_clause, scope_of, sees_business_key, sees_project
from backend.projects.models import Project
from backend.workflow.models import HumanTask

from .conftest import HZ_PROJECT, NB_PROJECT, _person


def _task(session, flows, code) -> HumanTask:
    return session.scalar(
        sa.select(HumanTask).where(HumanTask.instance_id == flows.instances[code], HumanTask.state == "open")
    )


def _listed(client, url) -> set[str]:
    return set(re.findall(r'data-task-id="([^"]+)"', client.get(url).get_data(as_text=True)))


def test_project_pages(app, world):
    hz = world.client(app, "hz_reviewer")
    assert hz.get(f"/applications/{HZ_PROJECT}").status_code == 200
    assert hz.get(f"/applications/{NB_PROJECT}").status_code == 404
    province = world.client(app, "reviewer")
    for code in (HZ_PROJECT, NB_PROJECT):
        assert province.get(f"/applications/{code}").status_code == 200


def test_inbox_and_task_pages(app, session, flows):
    hz_task, nb_task = _task(session, flows, HZ_PROJECT), _task(session, flows, NB_PROJECT)
    hz = flows.client(app, "hz_reviewer")
    assert _listed(hz, "/inbox?tab=group") == {hz_task.id}
    html = hz.get("/inbox?tab=group").get_data(as_text=True)
    assert re.search(r'data-tab-count="group">1<', html)
    # Searching by the other project's code finds nothing either.
    assert _listed(hz, f"/inbox?tab=group&project={NB_PROJECT}") == set()
    assert hz.get(f"/tasks/{hz_task.id}").status_code == 200
    assert hz.get(f"/tasks/{nb_task.id}").status_code == 404
    assert _listed(flows.client(app, "reviewer"), "/inbox?tab=group") == {hz_task.id, nb_task.id}
    # A task given to him personally stays on his desk wherever it is.
    nb_task.assignee = "hz_reviewer"
    session.commit()
    assert _listed(hz, "/inbox?tab=mine") == {nb_task.id}
    assert hz.get(f"/tasks/{nb_task.id}").status_code == 200


def test_notifications(app, session, flows):
    hz_task, nb_task = _task(session, flows, HZ_PROJECT), _task(session, flows, NB_PROJECT)
    page = flows.client(app, "hz_reviewer").get("/notifications").get_data(as_text=True)
    assert f"/tasks/{hz_task.id}" in page
    assert f"/tasks/{nb_task.id}" not in page
    province = flows.client(app, "reviewer").get("/notifications").get_data(as_text=True)
    assert f"/tasks/{nb_task.id}" in province


def test_api_with_the_session(app, session, flows):
    hz = flows.client(app, "hz_reviewer")
    projects = hz.get("/api/v1/projects").get_json()["items"]
    assert [p["code"] for p in projects] == [HZ_PROJECT]
    assert hz.get(f"/api/v1/projects/{NB_PROJECT}").status_code == 404
    assert hz.get(f"/api/v1/projects/{HZ_PROJECT}").status_code == 200
    candidate = hz.get("/api/v1/tasks?tab=candidate").get_json()["items"]
    assert [t["business_key"] for t in candidate] == [HZ_PROJECT]
    nb_task = _task(session, flows, NB_PROJECT)
    assert hz.post(f"/api/v1/tasks/{nb_task.id}/claim").status_code == 404
    assert hz.get(f"/api/v1/instances/{flows.instances[NB_PROJECT]}").status_code == 404
    province = flows.client(app, "reviewer").get("/api/v1/projects").get_json()["items"]
    assert {p["code"] for p in province} == {HZ_PROJECT, NB_PROJECT}


def test_api_key_is_bounded_by_its_owner(app, session, flows):
    # A province-wide key of the Hangzhou reviewer still sees Hangzhou only.
    _key, secret = keys.create_key(
        session=session,
        name="杭州对接",
        owner="hz_reviewer",
        scopes=list(keys.SCOPES),
        region_code="330000",
        created_by="sysadmin",
    )
    session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    projects = client.get("/api/v1/projects", headers=headers).get_json()["items"]
    assert [p["code"] for p in projects] == [HZ_PROJECT]
    assert client.get(f"/api/v1/projects/{NB_PROJECT}", headers=headers).status_code == 404


def test_cockpit_of_a_city_operator(app, session, flows):
    from backend.authz.service import revoke

    # Operators hold scope.all by default (platform operations); without it a city's is narrowed.
    revoke(session=session, role="operator", permission="scope.all", actor=flows["secadmin"])
    flows.people["hz_operator"] = _person(session, "hz_operator", ["operator"], region="330100")
    session.commit()
    client = flows.client(app, "hz_operator")
    html = client.get("/cockpit/instances").get_data(as_text=True)
    hz_id, nb_id = flows.instances[HZ_PROJECT], flows.instances[NB_PROJECT]
    assert f"/cockpit/instances/{hz_id}" in html
    assert f"/cockpit/instances/{nb_id}" not in html
    assert client.get(f"/cockpit/instances/{nb_id}").status_code == 404
    assert client.post(f"/cockpit/instances/{nb_id}/suspend", data={"reason": "x"}).status_code == 404
    province = flows.client(app, "operator").get("/cockpit/instances").get_data(as_text=True)  # 330000
    assert f"/cockpit/instances/{nb_id}" in province


def test_the_sql_filter_and_the_object_check_agree(session, world):
    projects = list(session.scalars(sa.select(Project)))
    for username in ("hz_reviewer", "reviewer", "nb_owner", "owner", "sysadmin"):
        user = world[username]
        scope = scope_of(user, session=session)
        listed = set(session.scalars(sa.select(Project.code).where(project_clause(scope))))
        checked = {p.code for p in projects if sees_project(user, p, session=session)}
        assert listed == checked, username
        assert checked == {p.code for p in projects if sees_business_key(user, p.code, session=session)}
    assert {p.code for p in projects if sees_project(world["hz_reviewer"], p)} == {HZ_PROJECT}
    assert {p.code for p in projects if sees_project(world["nb_owner"], p)} == {NB_PROJECT}
    # The Hangzhou owner unit's applicant sees its project (own unit).
    assert sees_project(world["owner"], next(p for p in projects if p.code == HZ_PROJECT))


def test_scope_all_is_a_grant(app, session, world):
    from backend.authz.service import grant

    hz = world.client(app, "hz_reviewer")
    assert hz.get(f"/applications/{NB_PROJECT}").status_code == 404
    grant(session=session, role="reviewer", permission="scope.all", actor=world["secadmin"])
    session.commit()
    assert hz.get(f"/applications/{NB_PROJECT}").status_code == 200


def test_files_of_an_instance_follow_the_scope(session, flows):
    from backend.db import utcnow
    from backend.files import access
    from backend.files.models import FileRef
    from tests.projects.factories import stored_file

    hz_file, nb_file = stored_file(session, "杭州 批复"), stored_file(session, "宁波 批复")
    for row, code in ((hz_file, HZ_PROJECT), (nb_file, NB_PROJECT)):
        session.add(
            FileRef(
                sha256=row.sha256, instance_id=flows.instances[code], name="批复.pdf", created_at=utcnow()
            )
        )
    session.commit()
    hashes = {hz_file.sha256, nb_file.sha256}
    # Both instances wait for the reviewer group: the group opens only the Hangzhou one to him.
    assert access.readable(session=session, user=flows["hz_reviewer"], hashes=hashes) == {hz_file.sha256}
    assert access.readable(session=session, user=flows["reviewer"], hashes=hashes) == hashes
