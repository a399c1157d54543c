"""Project applications (项目申报): the national project code, the rules an application must
meet, and the project's status while it is approved.

Plain keyword-only functions over the session; none commits.

The national project code (项目代码, GB/T 40058-2021 《全国固定资产投资项目代码编码规范》,
发改投资〔2020〕1439号) has 24 characters in five hyphenated segments:
`YYYY-RRRRRR-II-NN-SSSSSS`: the year the code was given, the 6-digit administrative division
(GB/T 2260) of the project's location, a 2-digit code (the industry in the 2016 rules, the
central supervising department in GB/T 40058), a 2-digit project type, and six characters of
which the last is a check character (GB/T 40058: five random characters and one check
character). The standard's check-character algorithm is not published in any source we
could consult, so the check character is validated for its alphabet only; the year and the
division code are checked against reality (the division against the `region` table).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.db import utcnow
from backend.files.models import StoredFile
from backend.org.models import Region, Unit, User
from backend.projects.models import Project, ProjectDocument

SHANGHAI = ZoneInfo("Asia/Shanghai")

PROJECT_CODE = re.compile(r"(\d{4})-(\d{6})-(\d{2})-(\d{2})-([0-9A-Z]{5})([0-9A-Z])")
CODE_FORMAT_MESSAGE = (
    "项目代码格式应为 YYYY-RRRRRR-II-NN-SSSSSS (年份-行政区划代码-行业/部门代码-项目类型-流水号及校验位)"
)
# The national online approval platform (全国投资项目在线审批监管平台) began giving codes in 2015.
FIRST_CODE_YEAR = 2015

NATURES = {"new": "新建", "continuing": "续建"}
# kind -> name; the three the approval requires, and anything else the applicant adds.
REQUIRED_DOCUMENTS = {
    "proposal": "项目建议书",
    "feasibility": "可行性研究报告",
    "preliminary_design": "初步设计",
}
DOCUMENT_KINDS = {**REQUIRED_DOCUMENTS, "other": "其他材料"}

# The fields of an application (forms/project_application.json), in the order of the form.
APPLICATION_FIELDS = (
    "project_name",
    "project_code",
    "owner_unit_id",
    "region_code",
    "industry",
    "nature",
    "total_investment",
    "funding_sources",
    "planned_start",
    "planned_end",
    "scale_content",
    "contact_name",
    "contact_phone",
    "documents",
)

_AMOUNT = re.compile(r"\d{1,16}(\.\d{1,2})?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class FieldError:
    """One reason an application is refused, for the form field it concerns."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ApplicationInvalid(ValueError):
    """The application does not meet the rules; `errors` lists every field error."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("申报信息不符合要求: " + "; ".join(e.message for e in errors))


class ProjectNotFound(LookupError):
    def __init__(self, code: str | None):
        self.code = code
        super().__init__(f"项目不存在: {code}")


# --- the project code ------------------------------------------------------------------


def validate_project_code(code: Any, *, session=None, today: date | None = None) -> list[str]:
    """Why `code` is not a valid national project code (empty when it is). With a session
    the division code must be a known region."""
    if not isinstance(code, str) or not code.strip():
        return ["请填写项目代码"]
    code = code.strip()
    if len(code) != 24:
        return [f"项目代码应为24位 (含连字符), 现为{len(code)}位"]
    match = PROJECT_CODE.fullmatch(code)
    if match is None:
        return [CODE_FORMAT_MESSAGE]
    year, region_code, sector, kind, _serial, _check = match.groups()
    problems = []
    this_year = (today or utcnow().astimezone(SHANGHAI).date()).year
    if not FIRST_CODE_YEAR <= int(year) <= this_year:
        problems.append(f"项目代码中的赋码年份 {year} 无效 (应在 {FIRST_CODE_YEAR}–{this_year} 之间)")
    if session is not None and session.get(Region, region_code) is None:
        problems.append(f"项目代码中的行政区划代码 {region_code} 不存在")
    if sector == "00":
        problems.append("项目代码中的行业/部门代码不能为 00")
    if kind == "00":
        problems.append("项目代码中的项目类型代码不能为 00")
    return problems


def normalize_project_code(code: Any) -> Any:
    return code.strip().upper() if isinstance(code, str) else code


# --- the application ------------------------------------------------------------------


def validate_application(
    data: dict[str, Any],
    *,
    session=None,
    applicant: User | None = None,
    project: Project | None = None,
    today: date | None = None,
) -> list[FieldError]:
    """Every reason the application cannot be accepted, in Chinese, per field.

    Without a session only the data itself is checked; with one also what it refers to
    (region, owner unit, stored files, code not taken). `project` is the project being
    resubmitted: its code cannot change.
    """
    errors: list[FieldError] = []

    def err(field: str, message: str) -> None:
        errors.append(FieldError(field, message))

    if not isinstance(data, dict):
        return [FieldError("", "申报数据格式错误")]

    name = data.get("project_name")
    if not _text(name):
        err("project_name", "请填写项目名称")
    elif len(name.strip()) > 200:
        err("project_name", "项目名称不能超过200字")

    code = normalize_project_code(data.get("project_code"))
    for message in validate_project_code(code, session=session, today=today):
        err("project_code", message)
    if isinstance(code, str) and not any(e.field == "project_code" for e in errors):
        if project is not None and code != project.code:
            err("project_code", f"项目代码不能修改 (原代码 {project.code})")
        elif (
            project is None
            and session is not None
            and session.scalar(sa.select(Project.id).filter_by(code=code)) is not None
        ):
            err("project_code", f"项目代码 {code} 已被申报")

    _check_owner_unit(data.get("owner_unit_id"), session=session, applicant=applicant, err=err)

    region_code = data.get("region_code")
    if not isinstance(region_code, str) or not re.fullmatch(r"\d{6}", region_code):
        err("region_code", "建设地点应为6位行政区划代码")
    elif session is not None and session.get(Region, region_code) is None:
        err("region_code", f"行政区划代码 {region_code} 不存在")

    industry = data.get("industry")
    if not _text(industry):
        err("industry", "请填写所属行业")
    elif len(industry.strip()) > 60:
        err("industry", "所属行业不能超过60字")

    if data.get("nature") not in NATURES:
        err("nature", "建设性质应为新建 (new) 或续建 (continuing)")

    total = _amount(data.get("total_investment"), "total_investment", "总投资", err)
    _check_funding(data.get("funding_sources"), total, err)

    start = _date(data.get("planned_start"), "planned_start", "计划开工日期", err)
    end = _date(data.get("planned_end"), "planned_end", "计划竣工日期", err)
    if start is not None and end is not None and start >= end:
        err("planned_end", "计划竣工日期必须晚于计划开工日期")

    if not _text(data.get("scale_content")):
        err("scale_content", "请填写建设规模及内容")
    if not _text(data.get("contact_name")):
        err("contact_name", "请填写联系人")
    phone = data.get("contact_phone")
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone.strip()):
        err("contact_phone", "联系电话应为11位手机号或带区号的固定电话")

    _check_documents(data.get("documents"), session=session, err=err)
    return errors


def normalized_application(data: dict[str, Any]) -> dict[str, Any]:
    """The application's fields in canonical JSON form (code upper case, amounts with two
    places as text, dates as ISO text). Call only on data that validated."""
    return {
        "project_name": data["project_name"].strip(),
        "project_code": normalize_project_code(data["project_code"]),
        "owner_unit_id": int(data["owner_unit_id"]),
        "region_code": data["region_code"],
        "industry": data["industry"].strip(),
        "nature": data["nature"],
        "total_investment": str(_to_money(data["total_investment"])),
        "funding_sources": [
            {"source": s["source"].strip(), "amount": str(_to_money(s["amount"]))}
            for s in data["funding_sources"]
        ],
        "planned_start": _to_date(data["planned_start"]).isoformat(),
        "planned_end": _to_date(data["planned_end"]).isoformat(),
        "scale_content": data["scale_content"].strip(),
        "contact_name": data["contact_name"].strip(),
        "contact_phone": data["contact_phone"].strip(),
        "documents": [
            {"kind": d["kind"], "sha256": d["sha256"], "name": d["name"].strip()} for d in data["documents"]
        ],
    }


def create_application(*, session, data: dict[str, Any], applicant: User) -> Project:
    """Register a new application as a project in status 'applying'; raises ApplicationInvalid."""
    errors = validate_application(data, session=session, applicant=applicant)
    if errors:
        raise ApplicationInvalid(errors)
    clean = normalized_application(data)
    project = Project(
        code=clean["project_code"], status="applying", created_by=applicant.username, created_at=utcnow()
    )
    _apply(project, clean)
    session.add(project)
    session.flush()
    _add_documents(session, project, clean["documents"], uploaded_by=applicant.username)
    return project


def update_application(
    *, session, project: Project, data: dict[str, Any], actor: str | None
) -> list[FieldError]:
    """Apply a supplemented or revised application (补正 / 修改后重新提交). Returns the field
    errors and changes nothing when there are any; otherwise the project is 'applying' again."""
    errors = validate_application(data, session=session, project=project)
    if errors:
        return errors
    clean = normalized_application(data)
    _apply(project, clean)
    project.status = "applying"
    _add_documents(session, project, clean["documents"], uploaded_by=actor)
    session.flush()
    return []


def get_by_code(*, session, code: str | None) -> Project:
    project = session.scalar(sa.select(Project).filter_by(code=code)) if code else None
    if project is None:
        raise ProjectNotFound(code)
    return project


# --- status through approval ------------------------------------------------------------


def mark_returned(*, session, project: Project) -> Project:
    """Sent back to the applicant (补正 at intake, or rejected in review)."""
    project.status = "returned"
    session.flush()
    return project


def register_approved(
    *, session, project: Project, approved_budget: Decimal, approved_at: datetime
) -> Project:
    """The 批复 is issued: the project is approved with its budget."""
    if isinstance(approved_budget, float):
        raise TypeError("approved_budget must be Decimal or text, never float")
    project.status = "approved"
    project.approved_budget = _to_money(approved_budget)
    project.approved_at = approved_at
    session.flush()
    return project


# --- helpers -------------------------------------------------------------------------


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _to_money(value: Any) -> Decimal:
    return Decimal(str(value).strip()).quantize(_CENT, rounding=ROUND_HALF_UP)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise TypeError("a date, not a datetime")
    return value if isinstance(value, date) else date.fromisoformat(value)


def _amount(value: Any, field: str, label: str, err) -> Decimal | None:
    """A positive amount in yuan with at most two decimals, given as text or Decimal."""
    if isinstance(value, bool | float):
        err(field, f'{label}须以文本填写金额 (如 "1250000.00"), 不接受浮点数')
        return None
    if isinstance(value, Decimal | int):
        value = str(value)
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value.strip()):
        err(field, f"{label}应为以元为单位、最多两位小数的金额")
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        err(field, f"{label}无法识别")
        return None
    if amount <= 0:
        err(field, f"{label}必须大于0")
        return None
    return amount


def _check_funding(sources: Any, total: Decimal | None, err) -> None:
    if not isinstance(sources, list) or not sources:
        err("funding_sources", "请至少填写一项资金来源")
        return
    amounts: list[Decimal] = []
    names: set[str] = set()
    for i, source in enumerate(sources):
        field = f"funding_sources[{i}]"
        if not isinstance(source, dict):
            err(field, f"第{i + 1}项资金来源格式错误")
            continue
        name = source.get("source")
        if not _text(name):
            err(f"{field}.source", f"第{i + 1}项资金来源未填写来源名称")
        elif name.strip() in names:
            err(f"{field}.source", f"资金来源 {name.strip()} 重复填写")
        else:
            names.add(name.strip())
        amount = _amount(source.get("amount"), f"{field}.amount", f"第{i + 1}项资金来源金额", err)
        if amount is not None:
            amounts.append(amount)
    if total is not None and len(amounts) == len(sources):
        funded = sum(amounts, Decimal("0"))
        if funded != total:
            err(
                "funding_sources",
                f"资金来源合计 {funded:.2f} 元与总投资 {total:.2f} 元不一致 (相差 {abs(total - funded):.2f} 元)",
            )


def _date(value: Any, field: str, label: str, err) -> date | None:
    if isinstance(value, datetime):
        err(field, f"{label}应为日期 (YYYY-MM-DD)")
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    err(field, f"{label}应为日期 (YYYY-MM-DD)")
    return None


def _check_owner_unit(unit_id: Any, *, session, applicant: User | None, err) -> None:
    if isinstance(unit_id, bool) or not isinstance(unit_id, int):
        err("owner_unit_id", "请选择建设单位")
        return
    if session is not None:
        unit = session.get(Unit, unit_id)
        if unit is None:
            err("owner_unit_id", f"建设单位不存在 (ID {unit_id})")
            return
        if unit.kind != "owner":
            err("owner_unit_id", f"{unit.name} 不是建设单位")
    if applicant is not None and applicant.unit_id != unit_id:
        err("owner_unit_id", "只能以申报人所在单位的名义申报")


def _check_documents(documents: Any, *, session, err) -> None:
    if not isinstance(documents, list):
        err("documents", "请上传申报材料")
        return
    kinds = set()
    for i, document in enumerate(documents):
        field = f"documents[{i}]"
        if not isinstance(document, dict):
            err(field, f"第{i + 1}份材料格式错误")
            continue
        kind, sha256, name = document.get("kind"), document.get("sha256"), document.get("name")
        if kind not in DOCUMENT_KINDS:
            err(f"{field}.kind", f"第{i + 1}份材料的类别无效")
        else:
            kinds.add(kind)
        if not _text(name):
            err(f"{field}.name", f"第{i + 1}份材料缺少文件名")
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            err(f"{field}.sha256", f"第{i + 1}份材料的文件摘要无效")
        elif session is not None and session.get(StoredFile, sha256) is None:
            err(f"{field}.sha256", f"第{i + 1}份材料 ({name}) 的文件未上传")
    for kind, label in REQUIRED_DOCUMENTS.items():
        if kind not in kinds:
            err("documents", f"缺少{label}")


def _apply(project: Project, clean: dict[str, Any]) -> None:
    project.name = clean["project_name"]
    project.owner_unit_id = clean["owner_unit_id"]
    project.region_code = clean["region_code"]
    project.industry = clean["industry"]
    project.nature = clean["nature"]
    project.total_investment = Decimal(clean["total_investment"])
    project.funding_sources = clean["funding_sources"]
    project.planned_start = date.fromisoformat(clean["planned_start"])
    project.planned_end = date.fromisoformat(clean["planned_end"])
    project.scale_content = clean["scale_content"]
    project.contact_name = clean["contact_name"]
    project.contact_phone = clean["contact_phone"]


def _add_documents(session, project: Project, documents: list[dict], *, uploaded_by: str | None) -> None:
    """Documents are kept: a resubmission adds the files that are new, never deletes."""
    have = set(
        session.execute(
            sa.select(ProjectDocument.kind, ProjectDocument.file_sha256).filter_by(project_id=project.id)
        ).all()
    )
    for document in documents:
        if (document["kind"], document["sha256"]) in have:
            continue
        session.add(
            ProjectDocument(
                project_id=project.id,
                kind=document["kind"],
                file_sha256=document["sha256"],
                file_name=document["name"],
                uploaded_by=uploaded_by,
                uploaded_at=utcnow(),
            )
        )
        have.add((document["kind"], document["sha256"]))
    session.flush()
