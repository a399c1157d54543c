"""The rules of an application (申报): every refusal names its field in Chinese; money is
Decimal and must add up to the fen; a resubmission updates the project or changes nothing."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.projects import service
from backend.projects.models import Project, ProjectDocument
from backend.projects.service import ApplicationInvalid, FieldError

from .factories import PROJECT_CODE, application, stored_file


def _errors(session, org, **overrides):
    return service.validate_application(
        application(org, **overrides), session=session, applicant=org.applicant, today=date(2025, 11, 3)
    )


def test_valid_application_creates_the_project(session, org):
    data = application(org, project_code=" 2025-330106-48-01-00017x ", total_investment=Decimal("128000000"))
    project = service.create_application(session=session, data=data, applicant=org.applicant)
    session.commit()
    project = session.get(Project, project.id)
    assert (project.code, project.status, project.created_by) == (PROJECT_CODE, "applying", "applicant")
    assert project.total_investment == Decimal("128000000.00")
    assert project.funding_sources[0] == {"source": "中央预算内资金", "amount": "30000000.00"}
    assert (project.planned_start, project.planned_end) == (date(2026, 3, 1), date(2028, 6, 30))
    documents = session.scalars(sa.select(ProjectDocument).order_by(ProjectDocument.id)).all()
    assert [(d.kind, d.file_name, d.uploaded_by) for d in documents] == [
        ("proposal", "项目建议书.pdf", "applicant"),
        ("feasibility", "可行性研究报告.pdf", "applicant"),
        ("preliminary_design", "初步设计.pdf", "applicant"),
    ]


def test_funding_must_add_up_to_the_fen(session, org):
    sources = [
        {"source": "中央预算内资金", "amount": "30000000.00"},
        {"source": "地方政府专项债券", "amount": "60000000.00"},
        {"source": "企业自筹", "amount": "37999999.99"},
    ]
    assert _errors(session, org, funding_sources=sources) == [
        FieldError(
            "funding_sources", "资金来源合计 127999999.99 元与总投资 128000000.00 元不一致 (相差 0.01 元)"
        )
    ]
    assert _errors(session, org, funding_sources=sources, total_investment="127999999.99") == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"total_investment": 128000000.0},
            [("total_investment", '总投资须以文本填写金额 (如 "1250000.00"), 不接受浮点数')],
        ),
        ({"total_investment": "1.005"}, [("total_investment", "总投资应为以元为单位、最多两位小数的金额")]),
        ({"total_investment": "0"}, [("total_investment", "总投资必须大于0")]),
        ({"funding_sources": []}, [("funding_sources", "请至少填写一项资金来源")]),
        (
            {
                "funding_sources": [
                    {"source": "企业自筹", "amount": "128000000.00"},
                    {"source": "企业自筹", "amount": "-1"},
                ]
            },
            [
                ("funding_sources[1].source", "资金来源 企业自筹 重复填写"),
                ("funding_sources[1].amount", "第2项资金来源金额应为以元为单位、最多两位小数的金额"),
            ],
        ),
        (
            {"planned_start": "2028-06-30", "planned_end": "2028-06-30"},
            [("planned_end", "计划竣工日期必须晚于计划开工日期")],
        ),
        ({"planned_start": "2026-02-30"}, [("planned_start", "计划开工日期应为日期 (YYYY-MM-DD)")]),
        ({"nature": "rebuild"}, [("nature", "建设性质应为新建 (new) 或续建 (continuing)")]),
        ({"region_code": "330199"}, [("region_code", "行政区划代码 330199 不存在")]),
        ({"region_code": "3301"}, [("region_code", "建设地点应为6位行政区划代码")]),
        ({"contact_phone": "12345"}, [("contact_phone", "联系电话应为11位手机号或带区号的固定电话")]),
        ({"project_name": " "}, [("project_name", "请填写项目名称")]),
        ({"scale_content": ""}, [("scale_content", "请填写建设规模及内容")]),
        (
            {"project_code": "2025-330106-48-01-0017"},
            [("project_code", "项目代码应为24位 (含连字符), 现为22位")],
        ),
    ],
)
def test_field_errors(session, org, overrides, expected):
    assert [(e.field, e.message) for e in _errors(session, org, **overrides)] == expected


def test_documents_must_exist_and_cover_the_three_kinds(session, org):
    documents = application(org)["documents"]
    missing_file = {"kind": "other", "sha256": "0" * 64, "name": "附件.pdf"}
    assert [
        (e.field, e.message) for e in _errors(session, org, documents=[*documents[:2], missing_file])
    ] == [
        ("documents[2].sha256", "第3份材料 (附件.pdf) 的文件未上传"),
        ("documents", "缺少初步设计"),
    ]
    assert [
        (e.field, e.message)
        for e in _errors(session, org, documents=[{**documents[0], "sha256": "ABC"}, *documents[1:]])
    ] == [
        ("documents[0].sha256", "第1份材料的文件摘要无效"),
    ]


def test_owner_unit_is_the_applicants_own(session, org):
    assert [(e.field, e.message) for e in _errors(session, org, owner_unit_id=org.other_unit.id)] == [
        ("owner_unit_id", "浙江省建工集团有限责任公司 不是建设单位"),
        ("owner_unit_id", "只能以申报人所在单位的名义申报"),
    ]


def test_a_code_is_applied_for_once(session, org):
    service.create_application(session=session, data=application(org), applicant=org.applicant)
    with pytest.raises(ApplicationInvalid) as refused:
        service.create_application(session=session, data=application(org), applicant=org.applicant)
    assert [e.message for e in refused.value.errors] == [f"项目代码 {PROJECT_CODE} 已被申报"]


def test_resubmission_updates_or_changes_nothing(session, org):
    project = service.create_application(session=session, data=application(org), applicant=org.applicant)
    service.mark_returned(session=session, project=project)

    errors = service.update_application(
        session=session,
        project=project,
        actor="applicant",
        data=application(org, project_code="2025-330106-48-01-00099Y", total_investment="1.00"),
    )
    assert [(e.field, e.message) for e in errors] == [
        ("project_code", f"项目代码不能修改 (原代码 {PROJECT_CODE})"),
        ("funding_sources", "资金来源合计 128000000.00 元与总投资 1.00 元不一致 (相差 127999999.00 元)"),
    ]
    assert (project.status, project.total_investment) == ("returned", Decimal("128000000.00"))

    design = stored_file(session, "preliminary design v2")
    documents = application(org)["documents"]
    documents[2] = {"kind": "preliminary_design", "sha256": design.sha256, "name": "初步设计(修订).pdf"}
    assert (
        service.update_application(
            session=session,
            project=project,
            actor="applicant",
            data=application(org, documents=documents, industry="城市地下综合管廊"),
        )
        == []
    )
    assert (project.status, project.industry) == ("applying", "城市地下综合管廊")
    names = session.scalars(
        sa.select(ProjectDocument.file_name).filter_by(project_id=project.id).order_by(ProjectDocument.id)
    ).all()
    assert names == ["项目建议书.pdf", "可行性研究报告.pdf", "初步设计.pdf", "初步设计(修订).pdf"]


def test_register_approved(session, org):
    project = service.create_application(session=session, data=application(org), applicant=org.applicant)
    at = datetime(2025, 11, 4, 2, tzinfo=UTC)
    service.register_approved(
        session=session, project=project, approved_budget=Decimal("127500000.5"), approved_at=at
    )
    assert (project.status, project.approved_budget, project.approved_at) == (
        "approved",
        Decimal("127500000.50"),
        at,
    )
    with pytest.raises(TypeError):
        service.register_approved(session=session, project=project, approved_budget=1.5, approved_at=at)
