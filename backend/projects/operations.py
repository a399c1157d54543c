"""BPMN service-task operations of the project registry.

The project of an instance is found by the business key, which is its 项目代码.
"""

from decimal import Decimal

from backend.projects import service
from backend.workflow.registry import OperationContext, operation


def _project(ctx: OperationContext):
    return service.get_by_code(session=ctx.session, code=ctx.business_key)


@operation(
    "projects.mark_returned",
    description="申报退回申请人 (补正或修改): 项目状态置为 returned",
    params=("stage",),
)
def mark_returned(ctx: OperationContext, *, stage: str) -> dict:
    project = service.mark_returned(session=ctx.session, project=_project(ctx))
    return {"status": project.status, "stage": stage, "returned_at": ctx.now.isoformat()}


@operation("projects.resubmit", description="校验补正或修改后的申报信息, 通过则更新项目")
def resubmit(ctx: OperationContext) -> dict:
    data = {field: ctx.data.get(field) for field in service.APPLICATION_FIELDS}
    errors = service.update_application(
        session=ctx.session, project=_project(ctx), data=data, actor=ctx.data.get("applicant")
    )
    return {"valid": not errors, "errors": [e.as_dict() for e in errors]}


@operation(
    "projects.register_approved",
    description="批复已出具: 项目登记为已批准, 记录批复投资",
    params=("approved_budget",),
)
def register_approved(ctx: OperationContext, *, approved_budget: str) -> dict:
    project = service.register_approved(
        session=ctx.session,
        project=_project(ctx),
        approved_budget=Decimal(str(approved_budget)),
        approved_at=ctx.now,
    )
    return {"status": project.status, "approved_budget": str(project.approved_budget)}
