"""The applicant's 补正 and 修改 through the pages: the application comes back with reasons,
the applicant sees them on the project page and on the task, resubmits with a new document,
and the intake window sees the old and the new document; a rejected round shows every
department's and the experts' opinion."""

import hashlib
import io
import re

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.files.service import store
from backend.org.models import User
from backend.projects.models import Project, ProjectDocument
from backend.workflow.models import HumanTask, ProcessInstance
from tests.projects.factories import PROJECT_CODE
from tests.tasks.test_views import PASSWORD, signed_in

from ..files import samples
from .test_views import FUNDING, KINDS, form_fields, html

REASONS = ["可行性研究报告缺少投资估算章节", "缺少用地预审意见"]
NAMES = {
    "proposal": "proposal.pdf",
    "feasibility": "feasibility.pdf",
    "preliminary_design": "preliminary_design.pdf",
}


@pytest.fixture()
def people(session, org):
    for name in ("applicant", "fgw_window", "cz_reviewer"):
        user = session.scalar(sa.select(User).filter_by(username=name))
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def first_version(kind: str) -> bytes:
    return samples.pdf(f"{kind} v1")  # what form_fields uploads


def resubmission(org, *, total="128000000.00", documents=None, note="补充投资估算章节及用地预审意见"):
    """The 补正 form as the prefilled page posts it back: the kept documents as hidden
    hashes, a replaced or added document as a file."""
    data = {k: v for k, v in form_fields(org).items() if not k.startswith("documents[")}
    data["total_investment"] = total
    for i, (kind, sha256, name, upload) in enumerate(documents):
        data[f"documents[{i}][kind]"] = kind
        data[f"documents[{i}][sha256]"] = sha256 or ""
        data[f"documents[{i}][name]"] = name or ""
        if upload is not None:
            data[f"documents[{i}][_file]"] = upload
    data["revision_note"] = note
    return data


def kept(kind):
    return (kind, sha(first_version(kind)), NAMES[kind], None)


def open_task(session, element_id) -> HumanTask:
    session.expire_all()
    return session.scalar(sa.select(HumanTask).filter_by(element_id=element_id, state="open"))


def test_supplement_walk_from_return_to_intake_with_both_documents(app, session, org, people, flow):
    applicant = signed_in(app, "applicant")
    response = applicant.post("/applications/new", data=form_fields(org), content_type="multipart/form-data")
    assert response.status_code == 302, html(response)
    flow.instance_id = session.scalar(sa.select(ProcessInstance.id).filter_by(business_key=PROJECT_CODE))
    flow.complete(
        "intake", {"accepted": False, "return_reasons": REASONS, "opinion": "请补正后重新提交"}, "fgw_window"
    )
    supplement = open_task(session, "supplement")

    # The project page says what to do, in order, with the way to the task.
    detail = html(applicant.get(f"/applications/{PROJECT_CODE}"))
    banner = detail.split('id="applicant-request"')[1].split("</div>")[0]
    assert 'data-kind="supplement"' in detail and "需要补正" in banner
    assert re.findall(r"<li class=\"text-break\">([^<]+)</li>", banner) == REASONS
    assert "请补正后重新提交" in banner
    assert f'href="/tasks/{supplement.id}" data-request-link' in detail
    # Someone of another department may look at the project, but the button is not for them.
    window = signed_in(app, "fgw_window")
    assert "data-request-link" not in html(window.get(f"/applications/{PROJECT_CODE}"))

    # The task shows the same reasons above the form, which starts from the application.
    page = html(applicant.get(f"/tasks/{supplement.id}"))
    assert page.index('id="applicant-request"') < page.index('class="task-form"')
    assert all(page.count(reason) == 2 for reason in REASONS)  # the banner, and intake on the timeline
    assert 'value="杭州市西湖区文三路综合管廊工程"' in page
    assert 'value="0571-87016688"' in page
    for kind in KINDS:
        assert f'value="{sha(first_version(kind))}"' in page  # kept documents, as hidden hashes
    assert 'data-field="return_reasons"' not in page  # shown once, in the banner
    # Every document is a download link, in the documents card and on the timeline.
    for kind in KINDS:
        assert page.count(f'href="/files/{sha(first_version(kind))}"') == 2

    # A resubmission the process refuses comes back with the reasons it gave.
    refused = applicant.post(
        f"/tasks/{supplement.id}",
        data=resubmission(org, total="130000000.00", documents=[kept(k) for k in KINDS]),
        content_type="multipart/form-data",
    )
    assert refused.status_code == 302, html(refused)
    again = open_task(session, "supplement")
    page = html(applicant.get(f"/tasks/{again.id}"))
    errors = page.split("data-resubmission-errors")[1].split("</div>")[0]
    assert "资金来源合计 128000000.00 元与总投资 130000000.00 元不一致" in errors
    assert 'value="130000000.00"' in page  # what was typed, to correct it
    assert all(reason in page for reason in REASONS)  # the 补正事项 still stand
    assert "资金来源合计" in html(applicant.get(f"/applications/{PROJECT_CODE}"))

    # Replace the feasibility study and add a land-use opinion; the other two stay.
    study_v2, land = samples.pdf("feasibility v2"), samples.pdf("land use")
    documents = [
        kept("proposal"),
        ("feasibility", sha(first_version("feasibility")), NAMES["feasibility"], (io.BytesIO(study_v2), "可研(补正).pdf")),
        kept("preliminary_design"),
        ("other", "", "", (io.BytesIO(land), "用地预审意见.pdf")),
    ]  # fmt: skip
    done = applicant.post(
        f"/tasks/{again.id}", data=resubmission(org, documents=documents), content_type="multipart/form-data"
    )
    assert done.status_code == 302, html(done)
    assert flow.open_steps() == ["intake"]
    project = session.scalar(sa.select(Project).filter_by(code=PROJECT_CODE))
    stored = session.scalars(
        sa.select(ProjectDocument).filter_by(project_id=project.id).order_by(ProjectDocument.id)
    ).all()
    assert [(d.kind, d.file_name) for d in stored] == [
        ("proposal", "proposal.pdf"),
        ("feasibility", "feasibility.pdf"),
        ("preliminary_design", "preliminary_design.pdf"),
        ("feasibility", "可研(补正).pdf"),
        ("other", "用地预审意见.pdf"),
    ]

    # Intake sees the first and the new study, and may open both.
    intake = open_task(session, "intake")
    page = html(window.get(f"/tasks/{intake.id}"))
    for content in (first_version("feasibility"), study_v2, land):
        assert f'href="/files/{sha(content)}"' in page
        download = window.get(f"/files/{sha(content)}")
        assert download.status_code == 200 and download.get_data() == content
    assert "可研(补正).pdf" in page and "用地预审意见.pdf" in page
    # No request is pending any more.
    assert 'id="applicant-request"' not in html(applicant.get(f"/applications/{PROJECT_CODE}"))
    # Someone of another department with no task here sees the names but gets no link.
    reviewer_page = html(signed_in(app, "cz_reviewer").get(f"/applications/{PROJECT_CODE}"))
    assert "可研(补正).pdf" in reviewer_page and f'href="/files/{sha(study_v2)}"' not in reviewer_page
    assert signed_in(app, "cz_reviewer").get(f"/files/{sha(study_v2)}").status_code == 403


def test_a_stranger_file_cannot_be_slipped_into_a_resubmission(app, session, org, people, flow):
    flow.submit()
    flow.complete("intake", {"accepted": False, "return_reasons": REASONS}, "fgw_window")
    supplement = open_task(session, "supplement")
    # Stored by someone else for another purpose; the applicant only learnt its hash.
    secret = store(session=session, data=samples.pdf("someone else's"), declared_name="内部资料.pdf")
    session.commit()
    documents = [kept(k) for k in KINDS] + [("other", secret.sha256, "内部资料.pdf", None)]
    response = signed_in(app, "applicant").post(
        f"/tasks/{supplement.id}",
        data=resubmission(org, documents=documents),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "不存在或无权引用" in html(response)
    assert open_task(session, "supplement").id == supplement.id
    assert signed_in(app, "applicant").get(f"/files/{secret.sha256}").status_code == 403


def test_a_rejected_round_shows_every_opinion_on_both_pages(app, session, org, people, flow):
    flow.submit()
    flow.accept()
    flow.review("cz", approved=False, opinion="专项债额度未落实, 请明确资金来源")
    for department in ("fgw", "zj", "zrzy"):
        flow.review(department)
    flow.review("sthj", opinion="同意, 施工期注意扬尘控制")
    flow.expert("expert1", approved=False, opinion="管廊断面论证不足")
    flow.expert("expert2")
    flow.expert("expert3")
    assert flow.open_steps() == ["revise"]
    revise = open_task(session, "revise")
    applicant = signed_in(app, "applicant")

    for page in (
        html(applicant.get(f"/applications/{PROJECT_CODE}")),
        html(applicant.get(f"/tasks/{revise.id}")),
    ):
        banner = re.split(r'<form|<div class="row', page.split('id="applicant-request"')[1])[0]
        assert 'data-kind="revise"' in page and "审批未通过, 请根据意见修改" in banner
        assert "第1轮并联审批中, 财政不同意。" in banner
        departments = re.findall(r'data-department="(\w+)"', banner)
        assert departments == ["fgw", "cz", "zj", "zrzy", "sthj", "expert"]
        cz = banner.split('data-department="cz"')[1].split("</li>")[0]
        assert 'data-decision="rejected"' in cz and "专项债额度未落实, 请明确资金来源" in cz
        assert "同意, 施工期注意扬尘控制" in banner
        votes = banner.split("data-expert-votes")[1].split("</ol>")[0]
        assert "管廊断面论证不足" in votes and votes.count("<li>") == 3
        assert "expert1" not in banner  # experts are heard, not named

    page = html(applicant.get(f"/tasks/{revise.id}"))
    assert 'data-field="review_round"' not in page  # shown once, in the banner
    assert 'value="杭州市西湖区文三路综合管廊工程"' in page
    assert re.search(r'<textarea[^>]*name="revision_note"[^>]*>\s*</textarea>', page)  # written afresh
    for source, amount in FUNDING:
        assert f'value="{source}"' in page and f'value="{amount}"' in page
