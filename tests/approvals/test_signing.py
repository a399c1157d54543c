"""会签签署: each department head signs the reviewer's opinion (sign_<dept>), from the task
page or the /sign queue, one by one or in a batch; every signature is an ApprovalOpinion and
the round summary says who signed each department's conclusion."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from backend.accounts.service import set_password
from backend.approvals import signing
from backend.approvals.models import ApprovalDocument, ApprovalOpinion, ApprovalRound
from backend.org.models import Department, User
from backend.tasks import service as tasks
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask
from tests.tasks.test_views import PASSWORD, signed_in

from .conftest import Flow

MONDAY = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # Monday 3 Nov 2025, 10:00 in Shanghai
DEPARTMENTS = ("fgw", "cz", "zj", "zrzy", "sthj")
CODES = ("2025-330106-48-01-00021X", "2025-330106-48-01-00022X", "2025-330106-48-01-00023X")


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def people(session, org):
    """Passwords for the reviewers and heads, and a second head of 发改 (分管副主任)."""
    fgw = session.scalar(sa.select(Department).filter_by(code="fgw"))
    session.add(User(username="fgw_head2", display_name="发改副主任", department_id=fgw.id, roles=["head"]))
    session.flush()
    names = [f"{d}_{role}" for d in DEPARTMENTS for role in ("reviewer", "head")] + ["fgw_head2", "applicant"]
    for user in session.scalars(sa.select(User).where(User.username.in_(names))):
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()


def _user(session, username) -> User:
    return session.scalar(sa.select(User).filter_by(username=username))


def _sign_task(flow, department) -> HumanTask:
    return flow.task(f"sign_{department}")


def _opinion(session, task_id) -> ApprovalOpinion:
    return session.scalar(sa.select(ApprovalOpinion).filter_by(task_id=task_id))


def test_head_sees_the_reviewers_opinion_and_signs_it(app, session, flow, people):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        flow.accept()
        clock.shift(timedelta(days=1))  # Tuesday
        flow.review("fgw", opinion="符合省重点建设项目布局", sign=False)
        sign = _sign_task(flow, "fgw")
        # The branch waits for its head, with the head's own 办理时限 of 2 working days.
        assert (sign.candidate_group, sign.assignee, sign.form) == (
            "fgw.head",
            None,
            "approval_head_sign.json",
        )
        assert sign.title == "发改负责人签署"
        assert sign.due_at == datetime(2025, 11, 6, 16, 0, tzinfo=UTC)  # end of Thursday 6 Nov
        assert "review_fgw" not in flow.open_steps()

        head = signed_in(app, "fgw_head")
        page = html(head.get(f"/tasks/{sign.id}"))
        # The reviewer's conclusion and opinion are shown read-only above the head's decision.
        reviewed = page.split('data-field="opinion" data-readonly>')[1].split("</div>")[0]
        assert "审查人意见" in reviewed and "符合省重点建设项目布局" in reviewed
        assert 'data-field="approved" data-readonly>' in page
        assert 'name="approved"' not in page and 'name="opinion"' not in page

        clock.shift(timedelta(hours=2))
        assert head.post(f"/tasks/{sign.id}/claim").status_code == 302
        response = head.post(f"/tasks/{sign.id}", data={"head_approved": "true", "head_opinion": "同意"})
        assert response.status_code == 302, html(response)

    session.expire_all()
    assert session.get(HumanTask, sign.id).state == "completed"
    assert "sign_fgw" not in flow.open_steps()
    signature = _opinion(session, sign.id)
    assert (signature.step, signature.department, signature.reviewer) == ("sign_fgw", "fgw", "fgw_head")
    assert (signature.decision, signature.opinion) == ("signed", "同意")
    assert signature.started_at == MONDAY + timedelta(days=1)
    assert signature.decided_at == MONDAY + timedelta(days=1, hours=2)
    assert (signature.working_days_used, signature.overdue) == (0, False)
    assert signature.due_at == sign.due_at
    assert signature.round_id == session.scalar(sa.select(ApprovalRound.id))


def test_head_disagreeing_turns_the_branch_conclusion_into_the_heads(flow, session):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        flow.accept()
        clock.shift(timedelta(days=1))
        # 发改's reviewer agrees, its head does not: 发改 rejects, with the head's opinion.
        flow.review("fgw", opinion="同意", sign=False)
        with pytest.raises(AssertionError, match="refuses"):  # overruling needs an opinion
            flow.complete("sign_fgw", {"head_approved": False}, "fgw_head")
        flow.sign("fgw", agree=False, opinion="投资估算依据不足, 请补充")
        # 财政's reviewer rejects, its head overrules: 财政 agrees, with the head's opinion.
        flow.review("cz", approved=False, opinion="资金来源未落实", sign=False)
        flow.sign("cz", agree=False, opinion="资金已列入年度预算, 同意")
        for department in ("zj", "zrzy", "sthj"):
            flow.review(department)
        for expert in ("expert1", "expert2"):
            flow.expert(expert)
        assert flow.open_steps() == ["revise"]

    (approval_round,) = session.scalars(sa.select(ApprovalRound)).all()
    summary = approval_round.summary
    assert (summary["outcome"], summary["rejected_by"]) == ("rejected", ["发改"])
    by_department = {o["department"]: o for o in summary["opinions"]}
    assert by_department["fgw"]["decision"] == "rejected"
    assert by_department["fgw"]["opinion"] == "投资估算依据不足, 请补充"
    assert by_department["fgw"]["signed_by"] == "fgwhead"
    assert by_department["cz"]["decision"] == "approved"
    assert by_department["cz"]["opinion"] == "资金已列入年度预算, 同意"
    assert by_department["cz"]["signed_by"] == "czhead"
    assert by_department["zj"]["decision"] == "approved" and by_department["zj"]["signed_by"] == "zjhead"
    # Every signature is recorded; an overruling one with the head's opinion.
    signatures = session.execute(
        sa.select(ApprovalOpinion.step, ApprovalOpinion.decision, ApprovalOpinion.opinion)
        .where(ApprovalOpinion.step.like("sign%"))
        .order_by(ApprovalOpinion.id)
    ).all()
    assert signatures == [
        ("sign_fgw", "overruled", "投资估算依据不足, 请补充"),
        ("sign_cz", "overruled", "资金已列入年度预算, 同意"),
        ("sign_zj", "signed", ""),
        ("sign_zrzy", "signed", ""),
        ("sign_sthj", "signed", ""),
    ]


def test_the_approval_document_and_the_project_page_name_who_signed(app, session, flow, people):
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.approve_round()
    document = session.scalar(sa.select(ApprovalDocument))
    signed = {o["department"]: o.get("signed_by") for o in document.content["opinions"]}
    assert signed == {
        "fgw": "fgwhead",
        "cz": "czhead",
        "zj": "zjhead",
        "zrzy": "zrzyhead",
        "sthj": "sthjhead",
        "expert": None,
    }
    page = html(signed_in(app, "applicant").get(f"/applications/{flow.instance.business_key}"))
    conclusions = page.split("data-round-conclusions>")[1].split("</ul>")[0]
    assert "fgwhead 签署" in conclusions and "sthjhead 签署" in conclusions
    assert 'data-decision="signed"' in page  # the signatures are among the opinions


def _three_waiting_for_fgw_head(session, org) -> list[Flow]:
    flows = []
    for i, code in enumerate(CODES):
        one = Flow(session, org)
        one.submit(project_code=code, project_name=f"测试项目{i + 1}")
        one.accept()
        one.review("fgw", opinion=f"第{i + 1}项同意", sign=False)
        flows.append(one)
    return flows


def test_batch_sign_signs_the_others_when_one_was_handled_meanwhile(app, session, org, deployed, people):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flows = _three_waiting_for_fgw_head(session, org)
        ids = [_sign_task(f, "fgw").id for f in flows]
        head = signed_in(app, "fgw_head")
        page = html(head.get("/sign"))
        assert all(f'data-sign-task="{task_id}"' in page for task_id in ids)

        # Meanwhile the other head of 发改 signs the second one from its task page.
        other = _user(session, "fgw_head2")
        tasks.claim(session=session, user=other, task_id=ids[1])
        workflow.complete_task(
            session=session, task_id=ids[1], data={"head_approved": True}, actor="fgw_head2"
        )
        session.commit()

        clock.shift(timedelta(hours=1))
        response = head.post("/sign", data={"task_id": ids, "remark": "同意审查意见"})
        assert response.status_code == 200
        page = html(response)

    results = page.split('id="sign-results"')[1].split("</ul>")[0]
    assert results.count('data-signed="true"') == 2 and results.count('data-signed="false"') == 1
    refused = results.split(f'data-result="{ids[1]}"')[1].split("</li>")[0]
    assert 'data-signed="false"' in refused and "该任务已被处理" in refused
    assert "测试项目2" in refused
    assert "已签署" in results.split(f'data-result="{ids[0]}"')[1].split("</li>")[0]
    assert 'id="sign-queue-empty"' in page  # nothing left to sign

    session.expire_all()
    rows = {t: session.get(HumanTask, t) for t in ids}
    assert [(rows[t].state, rows[t].completed_by) for t in ids] == [
        ("completed", "fgw_head"),
        ("completed", "fgw_head2"),
        ("completed", "fgw_head"),
    ]
    assert [(o.reviewer, o.decision, o.opinion) for o in (_opinion(session, t) for t in ids)] == [
        ("fgw_head", "signed", "同意审查意见"),
        ("fgw_head2", "signed", ""),
        ("fgw_head", "signed", "同意审查意见"),
    ]
    # Each signed branch went on: 发改's conclusion is in, the others still wait.
    assert all("sign_fgw" not in f.open_steps() and "review_cz" in f.open_steps() for f in flows)


def test_batch_sign_reports_a_cancelled_one_and_refuses_a_long_remark(session, org, deployed):
    with time_machine.travel(MONDAY, tick=False):
        flows = _three_waiting_for_fgw_head(session, org)
        ids = [_sign_task(f, "fgw").id for f in flows]
        workflow.cancel_instance(
            session=session, instance_id=flows[0].instance_id, actor="admin", reason="申报单位撤回申报"
        )
        session.commit()
        head = _user(session, "fgw_head")
        with pytest.raises(signing.SignRemarkInvalid):
            signing.batch_sign(session=session, user=head, task_ids=ids, remark="长" * 5001)
        session.rollback()
        assert {session.get(HumanTask, t).state for t in ids[1:]} == {"open"}

        results = signing.batch_sign(session=session, user=head, task_ids=[*ids, "no-such-task"])
        session.commit()

    assert [r.signed for r in results] == [False, True, True, False]
    assert results[0].error == "该任务已被处理, 请刷新待办列表"
    assert results[1].outcome == "completed" and results[1].title == "测试项目2"
    assert results[3].error == "不是会签签署任务, 不能批量签署"
    session.expire_all()
    assert [session.get(HumanTask, t).state for t in ids] == ["cancelled", "completed", "completed"]


def test_a_reviewer_has_no_queue_and_cannot_sign(app, session, flow, people):
    flow.submit()
    flow.accept()
    flow.review("fgw", sign=False)
    sign = _sign_task(flow, "fgw")
    reviewer = signed_in(app, "fgw_reviewer")
    assert reviewer.get("/sign").status_code == 403
    assert reviewer.post("/sign", data={"task_id": [sign.id]}).status_code == 403
    assert "data-sign-queue-link" not in html(reviewer.get("/inbox"))
    reviewer.post(f"/tasks/{sign.id}/claim")
    reviewer.post(f"/tasks/{sign.id}", data={"head_approved": "true"})
    refused = signing.batch_sign(session=session, user=_user(session, "fgw_reviewer"), task_ids=[sign.id])
    session.commit()
    assert refused[0].signed is False and "候选组" in refused[0].error
    session.expire_all()
    sign = session.get(HumanTask, sign.id)
    assert (sign.state, sign.assignee) == ("open", None)
    assert _opinion(session, sign.id) is None
    # Nor does another department's head sign 发改's opinion.
    refused = signing.batch_sign(session=session, user=_user(session, "cz_head"), task_ids=[sign.id])
    assert refused[0].signed is False
    head = signed_in(app, "fgw_head")
    assert "data-sign-queue-link>待签署 (1)<" in html(head.get("/inbox"))


def test_queue_lists_my_department_with_this_rounds_opinions(app, session, flow, people):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        flow.accept()
        flow.review("cz", opinion="资金来源已落实")  # reviewed and signed by 财政's head
        flow.review("zj", approved=False, opinion="建设标准偏高", sign=False)
        flow.expert("expert1", approved=False, opinion="断面论证不足")
        flow.review("fgw", opinion="同意立项", sign=False)
        # Another fgw sign waits in a second project, claimed by the other head of 发改: not mine.
        second = Flow(session, flow.org)
        second.submit(project_code=CODES[0], project_name="测试项目1")
        second.accept()
        second.review("fgw", sign=False)
        tasks.claim(session=session, user=_user(session, "fgw_head2"), task_id=_sign_task(second, "fgw").id)
        session.commit()

        fgw_head, zj_head = _user(session, "fgw_head"), _user(session, "zj_head")
        assert signing.queue_count(session=session, user=fgw_head) == 1
        (item,) = signing.sign_queue(session=session, user=fgw_head)
        assert item.task.id == _sign_task(flow, "fgw").id
        assert (item.project.code, item.round_no, item.days_left, item.overdue) == (
            flow.instance.business_key,
            1,
            2,
            False,
        )
        assert (item.review.department, item.review.decision, item.review.opinion, item.review.by) == (
            "fgw",
            "approved",
            "同意立项",
            "fgwreviewer",
        )
        assert [(b.department, b.decision, b.opinion, b.signed_by) for b in item.others] == [
            ("cz", "approved", "资金来源已落实", "czhead"),
            ("zj", "rejected", "建设标准偏高", None),
            ("expert", "rejected", "断面论证不足", None),
        ]
        assert [i.task.element_id for i in signing.sign_queue(session=session, user=zj_head)] == ["sign_zj"]
        assert signing.sign_queue(session=session, user=_user(session, "fgw_reviewer")) == []

        page = html(signed_in(app, "fgw_head").get("/sign"))
        assert page.count("data-sign-task=") == 1 and 'data-department="fgw"' in page
        own = page.split("data-own-review>")[1].split("本轮其他意见")[0]
        assert "同意立项" in own and "fgwreviewer" in own
        assert "资金来源已落实" in page and "czhead 签署" in page and "待负责人签署" in page
        assert "¥128,000,000.00" in page and "西湖区" in page
        assert "剩余 2 个工作日" in page and "text-danger" not in _days_left_class(page)

        clock.shift(timedelta(days=7))  # a week later: overdue, shown in red
        page = html(signed_in(app, "fgw_head").get("/sign"))
        assert "已超期 3 个工作日" in page and "text-danger" in _days_left_class(page)
        assert "border-danger" in page

        # Signing the one row from its button.
        response = signed_in(app, "fgw_head").post("/sign", data={"only": item.task.id, "remark": ""})
        assert 'data-signed="true"' in html(response)
    session.expire_all()
    signature = _opinion(session, item.task.id)
    assert (signature.decision, signature.overdue, signature.working_days_used) == ("signed", True, 5)
    assert session.get(HumanTask, _sign_task(second, "fgw").id).assignee == "fgw_head2"  # still theirs


def _days_left_class(page: str) -> str:
    return re.search(r'<div class="([^"]*)" data-days-left', page).group(1)
