"""marshmallow schemas of every request and response of /api/v1; the OpenAPI document is
generated from them (backend/api/spec.py). Money is a string with two decimals, times are
ISO 8601 in UTC."""

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, validate

from backend.cockpit.service import STATES
from backend.tickets.models import SEVERITIES, STATUSES

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
TABS = ("todo", "candidate", "done", "copied", "initiated")
DUE_STATES = ("on_time", "due_soon", "overdue")


class MoneyField(fields.Decimal):
    """Yuan as a string with two decimals ("1234.50"); the OpenAPI type is string (spec.py)."""


def Money(**kwargs):  # noqa: N802  (reads as a field type)
    return MoneyField(
        places=2, as_string=True, metadata={"example": "1234.50", "pattern": r"^-?\d+\.\d{2}$"}, **kwargs
    )


def Time(**kwargs):  # noqa: N802
    return fields.AwareDateTime(format="iso", default_timezone=None, **kwargs)


# --- shared ----------------------------------------------------------------------------------


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` names the fields of a request that failed. Other
    members are extensions (e.g. `scope`, `allowed_methods`)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))


class BodySchema(Schema):
    class Meta:
        unknown = RAISE


def page_of(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True, allow_none=True, metadata={"description": "null on the last page"}
            ),
        },
        name=name,
    )


# --- processes and instances -----------------------------------------------------------------


class ProcessDefinitionSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    deployed_at = Time(required=True)
    message_names = fields.List(fields.String(), required=True)
    message_starts = fields.List(fields.String(), required=True)


class ProcessDefinitionQuerySchema(QuerySchema):
    key = fields.String(metadata={"description": "all versions of this process, newest first"})


class InstanceSchema(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    version = fields.Integer(required=True, attribute="definition.version")
    business_key = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, metadata={"enum": list(STATES)})
    started_by = fields.String(required=True, allow_none=True)
    started_at = Time(required=True)
    updated_at = Time(required=True)
    completed_at = Time(required=True, allow_none=True)


class OpenTaskSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    element_id = fields.String(required=True)
    candidate_group = fields.String(required=True, allow_none=True)
    assignee = fields.String(required=True, allow_none=True)
    due_at = Time(required=True, allow_none=True)


class InstanceDetailSchema(InstanceSchema):
    open_tasks = fields.List(fields.Nested(OpenTaskSchema), required=True)


class InstanceQuerySchema(QuerySchema):
    process = fields.String(metadata={"description": "process key"})
    state = fields.String(validate=validate.OneOf(STATES))
    business_key = fields.String()
    started_after = Time()
    started_before = Time()


class StartInstanceSchema(BodySchema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=120))
    business_key = fields.String(
        allow_none=True,
        validate=validate.Length(max=120),
        metadata={"description": "ignored by processes whose business key is their 项目代码"},
    )
    variables = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "validated against the process's start form when it has one"},
    )


# --- tasks -----------------------------------------------------------------------------------


class TaskSchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    business_key = fields.String(required=True, allow_none=True)
    element_id = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    candidate_group = fields.String(required=True, allow_none=True)
    assignee = fields.String(required=True, allow_none=True)
    form = fields.String(required=True, allow_none=True)
    state = fields.String(required=True)
    due_at = Time(required=True, allow_none=True)
    due_state = fields.String(required=True, allow_none=True, metadata={"enum": [*DUE_STATES, None]})
    days_left = fields.Integer(required=True, allow_none=True, metadata={"description": "working days"})
    created_at = Time(required=True)
    completed_at = Time(required=True, allow_none=True)
    completed_by = fields.String(required=True, allow_none=True)


class TaskQuerySchema(QuerySchema):
    tab = fields.String(
        load_default="todo",
        validate=validate.OneOf(TABS),
        metadata={
            "description": "todo 待办, candidate 待签收, done 已办, copied 抄送我的, initiated 我发起的"
        },
    )
    process = fields.String(metadata={"description": "process key"})
    business_key = fields.String(metadata={"description": "项目代码"})
    region = fields.String(metadata={"description": "行政区划 code: that region and the ones under it"})
    due_state = fields.String(validate=validate.OneOf(DUE_STATES))


class CompleteTaskSchema(BodySchema):
    data = fields.Dict(
        keys=fields.String(), required=True, metadata={"description": "form data, per the task's JSON Schema"}
    )


class CompletedTaskSchema(Schema):
    task_id = fields.String(required=True)
    outcome = fields.String(
        required=True,
        metadata={"enum": ["completed", "held", "signed"], "description": "held: waits for after-signers"},
    )
    instance = fields.Nested(InstanceSchema, required=True)


# --- messages --------------------------------------------------------------------------------


class MessageSchema(BodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(allow_none=True, validate=validate.Length(max=120))
    correlation_key = fields.String(allow_none=True, validate=validate.Length(max=200))
    payload = fields.Raw(allow_none=True, metadata={"description": "any JSON value"})


class CorrelationSchema(Schema):
    delivered_to = fields.List(fields.Integer(), required=True, metadata={"description": "instance ids"})
    started = fields.List(fields.Integer(), required=True, metadata={"description": "instance ids"})


# --- projects, contracts, payments, tickets --------------------------------------------------


class FundingSourceSchema(Schema):
    source = fields.String(required=True)
    amount = Money(required=True)


class ProjectSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    owner_unit_id = fields.Integer(required=True)
    owner_unit_name = fields.String(required=True, attribute="owner_unit.name")
    industry = fields.String(required=True)
    nature = fields.String(required=True)
    total_investment = Money(required=True)
    funding_sources = fields.List(fields.Nested(FundingSourceSchema), required=True)
    planned_start = fields.Date(required=True)
    planned_end = fields.Date(required=True)
    status = fields.String(required=True)
    approved_budget = Money(required=True, allow_none=True)
    approved_at = Time(required=True, allow_none=True)
    created_at = Time(required=True)
    updated_at = Time(required=True)


class ProjectQuerySchema(QuerySchema):
    region = fields.String(metadata={"description": "行政区划 code: that region and the ones under it"})
    status = fields.String()
    q = fields.String(metadata={"description": "part of the name or the code"})


class MilestoneSchema(Schema):
    seq = fields.Integer(required=True)
    name = fields.String(required=True)
    amount = Money(required=True)
    state = fields.String(required=True)
    instance_id = fields.Integer(required=True, allow_none=True)


class ContractSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    name = fields.String(required=True)
    project_code = fields.String(required=True, attribute="project.code")
    party_a_unit_id = fields.Integer(required=True)
    party_b_unit_id = fields.Integer(required=True)
    supervisor_unit_id = fields.Integer(required=True, allow_none=True)
    amount = Money(required=True)
    signed_on = fields.Date(required=True, allow_none=True)
    created_at = Time(required=True)
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True)


class ContractQuerySchema(QuerySchema):
    project = fields.String(metadata={"description": "项目代码"})
    region = fields.String()


class PaymentSchema(Schema):
    number = fields.String(required=True)
    contract_number = fields.String(required=True, attribute="contract.number")
    project_code = fields.String(required=True, attribute="contract.project.code")
    milestone_seq = fields.Integer(required=True, attribute="milestone.seq")
    milestone_name = fields.String(required=True, attribute="milestone.name")
    amount = Money(required=True)
    state = fields.String(required=True)
    year = fields.Integer(required=True, allow_none=True)
    requested_at = Time(required=True)
    approved_at = Time(required=True, allow_none=True)
    submitted_at = Time(required=True, allow_none=True)
    disbursed_at = Time(required=True, allow_none=True)
    voucher = fields.String(required=True, allow_none=True)


class PaymentQuerySchema(QuerySchema):
    project = fields.String(metadata={"description": "项目代码"})
    contract = fields.String(metadata={"description": "contract number"})
    state = fields.String(
        validate=validate.OneOf(("requested", "approved", "submitted", "disbursed", "rejected"))
    )
    region = fields.String()


class TicketSchema(Schema):
    number = fields.String(required=True)
    project_code = fields.String(required=True, attribute="project.code")
    instance_id = fields.Integer(required=True, allow_none=True)
    source = fields.String(required=True)
    category = fields.String(required=True)
    severity = fields.String(required=True, metadata={"enum": list(SEVERITIES)})
    description = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    deadline = Time(required=True)
    overdue = fields.Boolean(required=True)
    responsible_unit_id = fields.Integer(required=True, allow_none=True)
    rounds = fields.Integer(required=True)
    created_at = Time(required=True)
    closed_at = Time(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True)


class TicketQuerySchema(QuerySchema):
    project = fields.String(metadata={"description": "项目代码"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    overdue = fields.Boolean()
    region = fields.String()


ProcessDefinitionPage = page_of(ProcessDefinitionSchema, "ProcessDefinitionPage")
InstancePage = page_of(InstanceSchema, "InstancePage")
TaskPage = page_of(TaskSchema, "TaskPage")
ProjectPage = page_of(ProjectSchema, "ProjectPage")
ContractPage = page_of(ContractSchema, "ContractPage")
PaymentPage = page_of(PaymentSchema, "PaymentPage")
TicketPage = page_of(TicketSchema, "TicketPage")
