"""An integrator drives project_approval through the API: start (the application form's rules),
the inbox, claim, complete with validation errors and then success; concurrent completions."""

import threading

import sqlalchemy as sa

from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.projects.factories import PROJECT_CODE, application

from .conftest import Client, bearer, issue


def _start(client, secret, org, **overrides):
    return client.post(
        "/api/v1/instances",
        json={"process_key": "project_approval", "variables": application(org, **overrides)},
        headers=bearer(secret),
    )


def test_start_refuses_an_invalid_application_naming_the_fields(client, session, org, deployed):
    secret = issue(session, "applicant")
    response = _start(client, secret, org, project_code="not-a-code", total_investment="abc")
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert "variables.project_code" in errors and "variables.total_investment" in errors
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    # Unknown process: a 422 naming process_key; a reviewer (no owner role) may not apply.
    response = client.post("/api/v1/instances", json={"process_key": "nope"}, headers=bearer(secret))
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["process_key"]
    reviewer = issue(session, "fgw_reviewer")
    assert _start(client, reviewer, org).status_code == 403


def test_start_list_claim_and_complete(client, session, org, deployed):
    applicant = issue(session, "applicant", region="330100")
    started = _start(client, applicant, org)
    assert started.status_code == 201, started.get_data(as_text=True)
    instance = started.get_json()
    assert instance["process_key"] == "project_approval" and instance["business_key"] == PROJECT_CODE
    assert instance["state"] == "running" and instance["started_at"].endswith("+00:00")
    assert started.headers["Location"].endswith(f"/api/v1/instances/{instance['id']}")
    # The applicant sees it in the list, filtered like the cockpit.
    listed = client.get(
        f"/api/v1/instances?process=project_approval&state=running&business_key={PROJECT_CODE}",
        headers=bearer(applicant),
    ).get_json()
    assert [i["id"] for i in listed["items"]] == [instance["id"]]
    listed = client.get("/api/v1/instances?state=completed", headers=bearer(applicant)).get_json()
    assert listed["items"] == []
    detail = client.get(f"/api/v1/instances/{instance['id']}", headers=bearer(applicant)).get_json()
    assert [t["element_id"] for t in detail["open_tasks"]] == ["intake"]

    window = issue(session, "fgw_window", region="330100")
    todo = client.get("/api/v1/tasks", headers=bearer(window)).get_json()
    candidate = client.get("/api/v1/tasks?tab=candidate", headers=bearer(window)).get_json()
    if todo["items"]:  # the diagram may assign intake straight to the window
        (task,) = todo["items"]
    else:
        (task,) = candidate["items"]
        claimed = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=bearer(window))
        assert claimed.status_code == 200, claimed.get_data(as_text=True)
        assert claimed.get_json()["assignee"] == "fgw_window"
        again = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=bearer(window))
        assert again.status_code == 409
    assert task["element_id"] == "intake" and task["business_key"] == PROJECT_CODE

    # Someone else may not complete it: 403.
    other = issue(session, "cz_reviewer")
    refused = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {"accepted": True}}, headers=bearer(other)
    )
    assert refused.status_code == 403, refused.get_data(as_text=True)
    # Accepted without experts: the form's rule names the field.
    invalid = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {"accepted": True}}, headers=bearer(window)
    )
    assert invalid.status_code == 422, invalid.get_data(as_text=True)
    assert list(invalid.get_json()["errors"]) == ["data.experts"]
    assert session.get(HumanTask, task["id"]).state == "open"
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"accepted": True, "experts": ["expert1", "expert2", "expert3"], "opinion": "受理"}},
        headers=bearer(window),
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["outcome"] == "completed" and done.get_json()["instance"]["id"] == instance["id"]
    again = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"accepted": True, "experts": ["expert1"]}},
        headers=bearer(window),
    )
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    done_tab = client.get("/api/v1/tasks?tab=done", headers=bearer(window)).get_json()
    assert [t["id"] for t in done_tab["items"]] == [task["id"]]
    # The instance moved on to the departments' reviews.
    detail = client.get(f"/api/v1/instances/{instance['id']}", headers=bearer(applicant)).get_json()
    assert "review_fgw" in {t["element_id"] for t in detail["open_tasks"]}


def test_concurrent_completions_one_wins_the_other_409(app, client, session, org, deployed):
    applicant = issue(session, "applicant")
    assert _start(client, applicant, org).status_code == 201
    window = issue(session, "fgw_window")
    task = session.scalar(sa.select(HumanTask).where(HumanTask.element_id == "intake"))
    task_id = task.id
    if task.assignee is None:
        assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=bearer(window)).status_code == 200
    session.commit()  # the test's own session holds no lock while the two requests race
    data = {"accepted": True, "experts": ["expert1", "expert2", "expert3"]}
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def complete():
        with app.app_context():
            own = Client(app, app.response_class)
            barrier.wait()
            response = own.post(
                f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=bearer(window)
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200, 409]
    session.rollback()
    completions = session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.kind == "task.completed", Event.task_id == task_id)
    )
    assert completions == 1


def test_an_application_outside_the_keys_region_is_403(client, session, org, deployed):
    ningbo = issue(session, "applicant", region="330200")
    response = _start(client, ningbo, org)  # the application is for 330106 西湖区
    assert response.status_code == 403, response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
