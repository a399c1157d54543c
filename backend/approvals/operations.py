"""BPMN service-task operations of the approval (processes/project_approval.bpmn).

The project is found by the instance's business key, its 项目代码.
"""

from flask import current_app

from backend.approvals import service
from backend.projects.service import get_by_code
from backend.workflow.registry import OperationContext, operation


def _project(ctx: OperationContext):
    return get_by_code(session=ctx.session, code=ctx.business_key)


@operation("approval.open_round", description="开启新一轮并联审批 (轮次编号递增)")
def open_round(ctx: OperationContext) -> dict:
    approval_round = service.open_round(
        session=ctx.session, project=_project(ctx), instance_id=ctx.instance_id, now=ctx.now
    )
    return {"round_no": approval_round.round_no, "started_at": ctx.now.isoformat()}


@operation(
    "approval.close_round",
    description="汇总本轮各部门与专家组意见, 判定通过或退回",
    params=("round_results", "expert_votes"),
)
def close_round(ctx: OperationContext, *, round_results: dict, expert_votes: list) -> dict:
    approval_round = service.close_round(
        session=ctx.session,
        project=_project(ctx),
        instance_id=ctx.instance_id,
        round_results=round_results,
        expert_votes=expert_votes,
        now=ctx.now,
    )
    return approval_round.summary


@operation("approval.issue_document", description="出具批复, 按年度顺序编号 (如 浙发改审批〔2026〕12号)")
def issue_document(ctx: OperationContext) -> dict:
    prefix = current_app.config.get("APPROVAL_DOCUMENT_PREFIX", service.DOCUMENT_PREFIX)
    document = service.issue_document(session=ctx.session, project=_project(ctx), now=ctx.now, prefix=prefix)
    return {
        "number": document.number,
        "year": document.year,
        "seq": document.seq,
        "title": document.title,
        "approved_budget": str(document.approved_budget),
        "issued_at": document.issued_at.isoformat(),
    }
