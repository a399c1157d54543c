"""批量签署 validates each task with its own instance's version of the head's form."""

import time_machine

from backend.approvals import signing
from backend.forms import store
from backend.forms.schema import load_form
from backend.workflow.deploy import deploy_files

from ..approvals.conftest import BPMN, FORMS, Flow, deployed, org  # noqa: F401  (fixtures)
from ..approvals.test_signing import MONDAY, _sign_task, _user


def _waiting_for_fgw_head(session, made_org, code: str) -> Flow:
    flow = Flow(session, made_org)
    flow.submit(project_code=code, project_name=f"项目{code[-4:]}")
    flow.accept()
    flow.review("fgw", opinion="同意", sign=False)
    return flow


def test_batch_sign_keeps_the_old_form_for_a_running_instance(session, org, deployed):  # noqa: F811
    with time_machine.travel(MONDAY, tick=False):
        old = _waiting_for_fgw_head(session, org, "2025-330106-48-01-00031X")

        # The head's form gains a required field; the process is redeployed with it.
        form = load_form(signing.HEAD_SIGN_FORM, forms_dir=FORMS)
        changed = {
            **form,
            "properties": {**form["properties"], "seal_no": {"type": "string", "title": "印章编号"}},
            "required": [*form["required"], "seal_no"],
        }
        store.save(session=session, name=signing.HEAD_SIGN_FORM, schema=changed, saved_by="designer")
        result = deploy_files(
            session=session,
            files={BPMN.name: BPMN.read_text(encoding="utf-8")},
            forms_dir=FORMS,
            deployed_by="t",
        )
        assert [d.version for d in result.created if d.key == "project_approval"] == [2]
        session.commit()
        new = _waiting_for_fgw_head(session, org, "2025-330106-48-01-00032X")

        ids = [_sign_task(old, "fgw").id, _sign_task(new, "fgw").id]
        results = signing.batch_sign(
            session=session, user=_user(session, "fgw_head"), task_ids=ids, remark="同意"
        )
        session.commit()

    assert [r.signed for r in results] == [True, False]
    assert results[1].error == "请填写印章编号"
