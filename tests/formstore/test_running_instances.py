"""A running instance keeps the form it started with: its task page shows that version and
its submission is validated against it, while an instance started after the form changed
and the process was redeployed gets the new form."""

import pytest
import sqlalchemy as sa

from backend.forms import store
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask

from .conftest import REVIEW_V1, REVIEW_V2, deploy_three_steps, person, signed_in, write_form


def _start(session, world, code: str):
    project = world.project(code, "330102")
    instance = workflow.start_instance(
        session=session,
        process_key="three_steps",
        data={"applicant": "applicant"},
        business_key=project.code,
        started_by="applicant",
    )
    session.commit()
    return instance


def _open_task(session, instance, element="submit") -> HumanTask:
    session.expire_all()
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance.id, element_id=element, state="open")
    )


@pytest.fixture()
def two_instances(app, session, world, forms_dir):
    """`old` started with REVIEW_V1; then the file gained a required field, the process was
    redeployed and `new` started."""
    seed_from_chinese_calendar(session=session)
    person(world, "applicant", department=world.fgw, roles=("owner",))
    write_form(forms_dir, "review.json", REVIEW_V1)
    deploy_three_steps(session, forms_dir)
    old = _start(session, world, "2026-330102-48-01-000001")
    write_form(forms_dir, "review.json", REVIEW_V2)
    (second,) = deploy_three_steps(session, forms_dir).created
    session.commit()
    new = _start(session, world, "2026-330102-48-01-000002")
    assert (old.definition.version, new.definition.version) == (1, 2)
    return old, new


def test_task_pages_show_each_instance_its_own_form(app, session, two_instances):
    old, new = two_instances
    client = signed_in(app, "applicant")
    old_page = client.get(f"/tasks/{_open_task(session, old).id}").get_data(as_text=True)
    new_page = client.get(f"/tasks/{_open_task(session, new).id}").get_data(as_text=True)
    assert 'name="opinion"' in old_page and 'name="opinion"' in new_page
    assert 'name="budget_note"' not in old_page and "预算说明" not in old_page
    assert 'name="budget_note"' in new_page and "预算说明" in new_page


def test_submissions_are_validated_against_each_instance_form(app, session, two_instances):
    old, new = two_instances
    client = signed_in(app, "applicant")
    data = {"approved": "true", "opinion": "材料齐全"}

    refused = client.post(f"/tasks/{_open_task(session, new).id}", data=data)
    assert refused.status_code == 422 and "请填写预算说明" in refused.get_data(as_text=True)
    assert _open_task(session, new) is not None

    old_task = _open_task(session, old)
    done = client.post(f"/tasks/{old_task.id}", data=data)
    assert done.status_code == 302, done.get_data(as_text=True)
    assert session.get(HumanTask, old_task.id).state == "completed"

    new_task = _open_task(session, new)
    accepted = client.post(f"/tasks/{new_task.id}", data={**data, "budget_note": "已列入年度预算"})
    assert accepted.status_code == 302, accepted.get_data(as_text=True)
    assert session.get(HumanTask, new_task.id).state == "completed"


def test_an_old_instance_keeps_its_form_after_an_editor_save_and_the_file_removed(
    app, session, forms_dir, two_instances
):
    old, new = two_instances
    (forms_dir / "review.json").unlink()
    store.save(session=session, name="review.json", schema={**REVIEW_V2, "title": "审核 v3"}, saved_by="d")
    session.commit()
    assert store.for_task(session=session, task=_open_task(session, old)) == REVIEW_V1
    assert store.for_task(session=session, task=_open_task(session, new)) == REVIEW_V2


def test_a_definition_without_snapshot_falls_back_to_the_newest_form(app, session, two_instances):
    old, _new = two_instances
    # As deployed before forms were versioned.
    old.definition.forms = None
    session.commit()
    assert store.for_task(session=session, task=_open_task(session, old)) == REVIEW_V2
