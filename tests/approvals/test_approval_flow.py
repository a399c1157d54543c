"""The approval end to end through the engine: submit, intake (补正), parallel review with the
expert countersign, rounds after rejection, the 批复."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from backend.approvals import service as approvals
from backend.approvals.models import ApprovalDocument, ApprovalRound
from backend.projects.models import Project, ProjectDocument
from backend.projects.service import ApplicationInvalid
from backend.workflow.host import host_context, load_run
from backend.workflow.models import HumanTask, ProcessInstance
from tests.projects.factories import PROJECT_CODE, application, stored_file

MONDAY = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # Monday 3 Nov 2025, 10:00 in Shanghai
DEPARTMENTS = ("fgw", "cz", "zj", "zrzy", "sthj")
REVIEW_STEPS = ["expert_review", "review_cz", "review_fgw", "review_sthj", "review_zj", "review_zrzy"]


def _opinions(session, project_id):
    return [
        (o.step, o.department, o.reviewer, o.decision, o.opinion)
        for o in approvals.opinions_of_project(session=session, project_id=project_id)
    ]


def _ready_data(flow, element_id):
    """What the engine hands to an open task (what its form is shown with)."""
    run = load_run(host_context(flow.session), flow.instance)
    (task,) = [t for t in run.ready_user_tasks() if t.element_id == element_id]
    return task.data


def test_all_approve_issues_document_and_registers_project(flow, session):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        project = session.scalar(sa.select(Project))
        assert (project.status, flow.instance.business_key) == ("applying", PROJECT_CODE)
        assert flow.open_steps() == ["intake"]
        assert flow.task("intake").candidate_group == "fgw.window"
        clock.shift(timedelta(hours=3))
        flow.accept(experts=("expert1", "expert2", "expert3"))
        assert flow.open_steps() == REVIEW_STEPS
        tasks = {t.element_id: t for t in flow.open_tasks() if t.element_id != "expert_review"}
        assert {e: t.candidate_group for e, t in tasks.items()} == {
            f"review_{d}": f"{d}.reviewer" for d in DEPARTMENTS
        }
        assert sorted(t.assignee for t in flow.open_tasks() if t.element_id == "expert_review") == [
            "expert1",
            "expert2",
            "expert3",
        ]
        clock.shift(timedelta(days=1))
        flow.approve_round(experts=("expert1", "expert2", "expert3"))

    instance = flow.instance
    assert instance.state == "completed"
    assert flow.open_tasks() == []
    session.expire_all()
    project = session.scalar(sa.select(Project))
    assert project.status == "approved"
    assert project.approved_budget == Decimal("128000000.00")
    assert project.approved_at == MONDAY + timedelta(days=1, hours=3)
    document = session.scalar(sa.select(ApprovalDocument))
    assert (document.year, document.seq, document.number) == (2025, 1, "浙发改审批〔2025〕1号")
    assert document.title == "关于杭州市西湖区文三路综合管廊工程的批复"
    assert document.approved_budget == Decimal("128000000.00")
    assert document.content["funding_sources"][1] == {"source": "地方政府专项债券", "amount": "60000000.00"}
    assert flow.data()["approval_document"]["number"] == "浙发改审批〔2025〕1号"

    (approval_round,) = session.scalars(sa.select(ApprovalRound)).all()
    assert (approval_round.round_no, approval_round.outcome) == (1, "approved")
    # 2 of 3 experts approving decides a ratio:2/3 panel: the third expert's task is withdrawn.
    expert3 = session.scalar(sa.select(HumanTask).filter_by(element_id="expert_review", assignee="expert3"))
    assert expert3.state == "cancelled"
    assert _opinions(session, project.id) == [
        ("intake", "fgw", "fgw_window", "accepted", "材料齐全, 予以受理"),
        ("review_fgw", "fgw", "fgw_reviewer", "approved", ""),
        ("sign_fgw", "fgw", "fgw_head", "signed", ""),
        ("review_cz", "cz", "cz_reviewer", "approved", ""),
        ("sign_cz", "cz", "cz_head", "signed", ""),
        ("review_zj", "zj", "zj_reviewer", "approved", ""),
        ("sign_zj", "zj", "zj_head", "signed", ""),
        ("review_zrzy", "zrzy", "zrzy_reviewer", "approved", ""),
        ("sign_zrzy", "zrzy", "zrzy_head", "signed", ""),
        ("review_sthj", "sthj", "sthj_reviewer", "approved", ""),
        ("sign_sthj", "sthj", "sthj_head", "signed", ""),
        ("expert_review", "expert", "expert1", "approved", "同意"),
        ("expert_review", "expert", "expert2", "approved", "同意"),
    ]
    opinions = approvals.opinions_of_project(session=session, project_id=project.id)
    assert opinions[0].round_id is None
    assert {o.round_id for o in opinions[1:]} == {approval_round.id}


def test_intake_return_and_supplement_then_accept(flow, session, org):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        clock.shift(timedelta(hours=2))
        flow.complete(
            "intake",
            {
                "accepted": False,
                "return_reasons": ["可行性研究报告缺少投资估算章节", "缺少用地预审意见"],
                "opinion": "请补正后重新提交",
            },
            "fgw_window",
        )
        project = session.scalar(sa.select(Project))
        assert project.status == "returned"
        supplement = flow.task("supplement")
        assert (supplement.assignee, supplement.candidate_group, supplement.form) == (
            "applicant",
            f"unit.{org.unit.id}",
            "project_application.json",
        )
        assert _ready_data(flow, "supplement")["return_reasons"] == [
            "可行性研究报告缺少投资估算章节",
            "缺少用地预审意见",
        ]

        # A supplement that breaks the rules goes back to the applicant with the reasons.
        clock.shift(timedelta(days=1))
        new_study = stored_file(session, "feasibility v2")
        documents = application(org)["documents"]
        documents[1] = {"kind": "feasibility", "sha256": new_study.sha256, "name": "可行性研究报告(补正).pdf"}
        flow.complete(
            "supplement",
            application(
                org, documents=documents, total_investment="130000000.00", revision_note="补充投资估算"
            ),
            "applicant",
        )
        assert flow.open_steps() == ["supplement"]
        errors = _ready_data(flow, "supplement")["resubmission"]["errors"]
        assert errors == [
            {
                "field": "funding_sources",
                "message": "资金来源合计 128000000.00 元与总投资 130000000.00 元不一致 (相差 2000000.00 元)",
            }
        ]
        session.refresh(project)
        assert project.total_investment == Decimal("128000000.00")  # nothing applied

        funding = [
            {"source": "中央预算内资金", "amount": "30000000.00"},
            {"source": "地方政府专项债券", "amount": "62000000.00"},
            {"source": "企业自筹", "amount": "38000000.00"},
        ]
        flow.complete(
            "supplement",
            application(
                org,
                documents=documents,
                total_investment="130000000.00",
                funding_sources=funding,
                revision_note="补充投资估算, 调整专项债",
            ),
            "applicant",
        )
        assert flow.open_steps() == ["intake"]
        session.refresh(project)
        assert (project.status, project.total_investment) == ("applying", Decimal("130000000.00"))
        assert project.funding_sources[1] == {"source": "地方政府专项债券", "amount": "62000000.00"}
        kinds = session.scalars(
            sa.select(ProjectDocument.kind).filter_by(project_id=project.id).order_by(ProjectDocument.id)
        ).all()
        assert kinds == ["proposal", "feasibility", "preliminary_design", "feasibility"]  # history kept

        clock.shift(timedelta(hours=1))
        flow.accept()
        assert flow.open_steps() == REVIEW_STEPS
        assert session.scalar(sa.select(ApprovalRound.round_no)) == 1

    assert _opinions(session, project.id) == [
        (
            "intake",
            "fgw",
            "fgw_window",
            "returned",
            "可行性研究报告缺少投资估算章节；缺少用地预审意见；请补正后重新提交",
        ),
        ("supplement", None, "applicant", "resubmitted", "补充投资估算"),
        ("supplement", None, "applicant", "resubmitted", "补充投资估算, 调整专项债"),
        ("intake", "fgw", "fgw_window", "accepted", "材料齐全, 予以受理"),
    ]
    assert {o.round_id for o in approvals.opinions_of_project(session=session, project_id=project.id)} == {
        None
    }


def test_rejection_waits_for_all_branches_then_resubmission_passes(flow, session, org):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        flow.accept()
        clock.shift(timedelta(days=1))
        flow.review("cz", approved=False, opinion="专项债额度未落实, 请明确资金来源")
        # Every other branch still decides: the applicant gets every opinion at once.
        assert flow.open_steps() == [s for s in REVIEW_STEPS if s != "review_cz"]
        for department in ("fgw", "zj", "zrzy"):
            flow.review(department)
        flow.review("sthj", approved=True, opinion="同意, 施工期注意扬尘控制")
        flow.expert("expert1", approved=False, opinion="管廊断面论证不足")
        assert "revise" not in flow.open_steps()
        flow.expert("expert2")
        flow.expert("expert3")
        assert flow.open_steps() == ["revise"]

        project = session.scalar(sa.select(Project))
        assert project.status == "returned"
        shown = _ready_data(flow, "revise")["review_round"]
        assert (shown["round_no"], shown["outcome"], shown["rejected_by"]) == (1, "rejected", ["财政"])
        by_department = {o["department"]: o for o in shown["opinions"]}
        assert list(by_department) == ["fgw", "cz", "zj", "zrzy", "sthj", "expert"]
        assert by_department["cz"]["decision"] == "rejected"
        assert by_department["cz"]["opinion"] == "专项债额度未落实, 请明确资金来源"
        # each department's conclusion is the one its head signed, and says who signed it
        assert by_department["cz"]["signed_by"] == "czhead"
        assert by_department["cz"]["signed_at"] == (MONDAY + timedelta(days=1)).isoformat()
        assert "signed_by" not in by_department["expert"]
        assert by_department["sthj"]["opinion"] == "同意, 施工期注意扬尘控制"
        assert by_department["expert"]["decision"] == "approved"  # 2 of 3
        assert [v["opinion"] for v in by_department["expert"]["votes"]] == [
            "管廊断面论证不足",
            "同意",
            "同意",
        ]

        # A revision that breaks the rules is sent back before any department sees it.
        clock.shift(timedelta(days=2))
        flow.complete(
            "revise", application(org, planned_end="2026-01-01", revision_note="调整工期"), "applicant"
        )
        assert flow.open_steps() == ["revise"]
        assert _ready_data(flow, "revise")["resubmission"]["errors"] == [
            {"field": "planned_end", "message": "计划竣工日期必须晚于计划开工日期"}
        ]

        funding = [
            {"source": "中央预算内资金", "amount": "30000000.00"},
            {"source": "企业自筹", "amount": "98000000.00"},
        ]
        flow.complete(
            "revise",
            application(
                org, funding_sources=funding, revision_note="取消专项债, 改由企业自筹; 补充管廊断面比选"
            ),
            "applicant",
        )
        assert flow.open_steps() == REVIEW_STEPS  # round 2 runs the whole parallel review again
        assert session.scalar(sa.select(Project.status)) == "applying"
        clock.shift(timedelta(days=1))
        flow.approve_round()

    assert flow.instance.state == "completed"
    rounds = approvals.rounds_of_project(session=session, project_id=project.id)
    assert [(r.round_no, r.outcome) for r in rounds] == [(1, "rejected"), (2, "approved")]
    assert rounds[0].summary["rejected_by"] == ["财政"]  # what round 1 looked like is kept
    # Round 2 sees only its own decisions: two expert votes, nothing carried over from round 1's three.
    assert rounds[1].summary["rejected_by"] == []
    assert [v["opinion"] for v in rounds[1].summary["opinions"][-1]["votes"]] == ["同意", "同意"]
    assert flow.data()["funding_sources"] == funding

    opinions = approvals.opinions_of_project(session=session, project_id=project.id)
    by_round = {}
    for o in opinions:
        by_round.setdefault(o.round_id, []).append((o.step, o.decision))
    assert by_round[None] == [("intake", "accepted")]
    assert sorted(by_round[rounds[0].id]) == sorted(
        [
            ("review_cz", "rejected"),
            ("review_fgw", "approved"),
            ("review_zj", "approved"),
            ("review_zrzy", "approved"),
            ("review_sthj", "approved"),
            *[(f"sign_{d}", "signed") for d in DEPARTMENTS],
            ("expert_review", "rejected"),
            ("expert_review", "approved"),
            ("expert_review", "approved"),
            # the applicant's answers to round 1 (the refused one and the accepted one)
            ("revise", "resubmitted"),
            ("revise", "resubmitted"),
        ]
    )
    assert sorted(by_round[rounds[1].id]) == sorted(
        [(f"review_{d}", "approved") for d in DEPARTMENTS]
        + [(f"sign_{d}", "signed") for d in DEPARTMENTS]
        + [("expert_review", "approved")] * 2
    )
    cz_round_1 = next(o for o in opinions if o.round_id == rounds[0].id and o.step == "review_cz")
    assert cz_round_1.opinion == "专项债额度未落实, 请明确资金来源"
    assert cz_round_1.working_days_used == 1 and cz_round_1.overdue is False

    session.expire_all()
    project = session.get(Project, project.id)
    assert project.status == "approved"
    assert project.funding_sources == funding
    assert session.scalar(sa.select(ApprovalDocument.number)) == "浙发改审批〔2025〕1号"


# experts, votes in order, panel result, votes cast before the panel decided
COUNTERSIGN = [
    (1, [True], "approved", 1),
    (1, [False], "rejected", 1),
    (3, [True, False, True], "approved", 3),
    (3, [False, False], "rejected", 2),  # 2 approvals needed, 1 signer left: out of reach
    (7, [True] * 5, "approved", 5),  # ceil(7 × 2/3) = 5
    (7, [False, False, False], "rejected", 3),
    (7, [True, True, False, True, False, True, True], "approved", 7),
]


@pytest.mark.parametrize(("count", "votes", "result", "cast"), COUNTERSIGN)
def test_expert_countersign_two_thirds(flow, session, count, votes, result, cast):
    experts = [f"expert{i}" for i in range(1, count + 1)]
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept(experts=experts)
        open_experts = [t for t in flow.open_tasks() if t.element_id == "expert_review"]
        assert sorted(t.assignee for t in open_experts) == experts
        assert {t.multi_instance_total for t in open_experts} == {count}
        assert {t.properties["countersign"] for t in open_experts} == {"ratio:2/3"}
        for department in DEPARTMENTS:
            flow.review(department)
        for expert, vote in zip(experts, votes, strict=False):
            flow.expert(expert, approved=vote)
        assert "expert_review" not in flow.open_steps()

    project = session.scalar(sa.select(Project))
    expert_tasks = session.scalars(sa.select(HumanTask).filter_by(element_id="expert_review")).all()
    assert sum(t.state == "completed" for t in expert_tasks) == cast
    assert sum(t.state == "cancelled" for t in expert_tasks) == count - cast
    recorded = [
        o
        for o in approvals.opinions_of_project(session=session, project_id=project.id)
        if o.step == "expert_review"
    ]
    assert [o.decision == "approved" for o in recorded] == votes[:cast]
    (approval_round,) = approvals.rounds_of_project(session=session, project_id=project.id)
    assert approval_round.summary["opinions"][-1]["decision"] == result
    if result == "approved":
        assert flow.instance.state == "completed"
        assert project.status == "approved"
    else:
        assert flow.open_steps() == ["revise"]
        assert approval_round.summary["rejected_by"] == ["专家组"]
        assert project.status == "returned"


def test_invalid_application_starts_nothing(session, org, deployed):
    with pytest.raises(ApplicationInvalid) as refused:
        approvals.submit_application(
            session=session,
            data=application(org, project_code="2025-999999-48-01-00017X"),
            applicant=org.applicant,
        )
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("project_code", "项目代码中的行政区划代码 999999 不存在")
    ]
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
