"""The applicant's pages through the Flask test client: the application form, submitting it
with three uploaded PDFs, my applications, and the project page with opinions and the 批复."""

import io

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.approvals.models import ApprovalDocument
from backend.org.models import User
from backend.projects.models import Project, ProjectDocument
from backend.workflow.models import ProcessInstance
from tests.projects.factories import PROJECT_CODE
from tests.tasks.test_views import PASSWORD, signed_in

from ..files import samples

FUNDING = (
    ("中央预算内资金", "30000000.00"),
    ("地方政府专项债券", "60000000.00"),
    ("企业自筹", "38000000.00"),
)
KINDS = ("proposal", "feasibility", "preliminary_design")


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def people(session, org):
    """Passwords for the applicant, a reviewer, and someone of another unit without a role."""
    outsider = User(username="outsider", display_name="李四", unit_id=org.other_unit.id, roles=[])
    session.add(outsider)
    session.flush()
    for name in ("applicant", "fgw_reviewer", "outsider"):
        user = session.scalar(sa.select(User).filter_by(username=name))
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()


def form_fields(org, **overrides) -> dict:
    data = {
        "project_name": "杭州市西湖区文三路综合管廊工程",
        "project_code": PROJECT_CODE,
        "owner_unit_id": str(org.unit.id),
        "region_code": "330106",
        "industry": "市政公用设施",
        "nature": "new",
        "total_investment": "128000000.00",
        "planned_start": "2026-03-01",
        "planned_end": "2028-06-30",
        "scale_content": "新建综合管廊 3.2 公里, 含电力、通信、给水舱室及附属设施。",
        "contact_name": "张伟",
        "contact_phone": "0571-87016688",
    }
    for i, (source, amount) in enumerate(FUNDING):
        data[f"funding_sources[{i}][source]"] = source
        data[f"funding_sources[{i}][amount]"] = amount
    for i, kind in enumerate(KINDS):
        data[f"documents[{i}][kind]"] = kind
        data[f"documents[{i}][_file]"] = (io.BytesIO(samples.pdf(f"{kind} v1")), f"{kind}.pdf")
    data.update(overrides)
    return data


def test_form_renders_for_owner_only(app, session, org, people):
    page = html(signed_in(app, "applicant").get("/applications/new"))
    assert "项目申报" in page
    assert 'name="project_code"' in page and 'name="documents[0][_file]"' in page
    assert signed_in(app, "outsider").get("/applications/new").status_code == 403
    assert signed_in(app, "outsider").post("/applications/new", data={}).status_code == 403
    assert signed_in(app, "fgw_reviewer").get("/applications/new").status_code == 403


def test_invalid_submission_is_refused_with_values_kept(app, session, org, people, deployed):
    client = signed_in(app, "applicant")
    response = client.post(
        "/applications/new",
        data=form_fields(org, project_name="西湖区文三路管廊待定名称", total_investment="100.00"),
        content_type="multipart/form-data",
    )
    page = html(response)
    assert response.status_code == 422, page
    # The projects rule (funding must add up to the total) in Chinese, the typed values kept.
    assert "资金来源合计 128000000.00 元与总投资 100.00 元不一致" in page
    assert 'value="西湖区文三路管廊待定名称"' in page
    assert 'value="100.00"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0

    missing = client.post(
        "/applications/new",
        data={"project_name": "只填了名称", "owner_unit_id": str(org.unit.id)},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert "请填写项目代码" in html(missing) and "请填写申报材料" in html(missing)
    assert 'value="只填了名称"' in html(missing)


def test_valid_submission_starts_approval_and_is_followed(app, session, org, people, deployed):
    client = signed_in(app, "applicant")
    response = client.post("/applications/new", data=form_fields(org), content_type="multipart/form-data")
    assert response.status_code == 302, html(response)
    assert response.headers["Location"].endswith(f"/applications/{PROJECT_CODE}")
    session.expire_all()
    project = session.scalar(sa.select(Project).filter_by(code=PROJECT_CODE))
    assert (project.status, project.created_by) == ("applying", "applicant")
    instance = session.scalar(sa.select(ProcessInstance).filter_by(business_key=PROJECT_CODE))
    assert (instance.process_key, instance.started_by) == ("project_approval", "applicant")
    documents = session.scalars(sa.select(ProjectDocument).filter_by(project_id=project.id)).all()
    assert sorted((d.kind, d.file_name) for d in documents) == sorted((k, f"{k}.pdf") for k in KINDS)

    detail = client.get(response.headers["Location"])
    assert detail.status_code == 200
    assert "申报已提交" in html(detail)
    assert "¥128,000,000.00" in html(detail)

    mine = html(client.get("/applications"))
    assert f'data-project-code="{PROJECT_CODE}"' in mine
    assert "杭州市西湖区文三路综合管廊工程" in mine and "审批中" in mine
    assert "当前环节: " in mine and "受理" in mine.split("当前环节: ")[1].split("<")[0]
    # Somebody else's list does not show it.
    assert PROJECT_CODE not in html(signed_in(app, "outsider").get("/applications"))


def test_detail_shows_opinions_and_the_issued_approval(app, session, org, people, flow):
    flow.submit()
    flow.accept()
    flow.review("fgw", opinion="符合产业政策")
    reviewer = signed_in(app, "fgw_reviewer")
    page = html(reviewer.get(f"/applications/{PROJECT_CODE}"))
    assert "材料齐全, 予以受理" in page and "符合产业政策" in page
    assert 'data-decision="accepted"' in page and 'id="approval-document"' not in page
    # Out of his data scope: as if it did not exist (issue 7).
    assert signed_in(app, "outsider").get(f"/applications/{PROJECT_CODE}").status_code == 404
    assert reviewer.get("/applications/2025-330106-48-01-99999X").status_code == 404

    for department in ("cz", "zj", "zrzy", "sthj"):
        flow.review(department)
    for expert in ("expert1", "expert2", "expert3"):
        if "expert_review" in flow.open_steps():
            flow.expert(expert)
    session.expire_all()
    document = session.scalar(sa.select(ApprovalDocument))
    assert document is not None
    page = html(signed_in(app, "applicant").get(f"/applications/{PROJECT_CODE}"))
    assert f"data-number>{document.number}<" in page
    assert "¥128,000,000.00" in page.split("data-approved-budget>")[1][:30]
    assert "已批复" in page and 'data-round="1"' in page
    mine = html(signed_in(app, "applicant").get("/applications"))
    assert f"批复文号: {document.number}" in mine
