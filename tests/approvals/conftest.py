import json

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator, FormatChecker

from backend.approvals import service as approvals
from backend.config import ROOT
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask, ProcessInstance
from tests.projects.factories import application, make_org

BPMN = ROOT / "processes" / "project_approval.bpmn"
FORMS = ROOT / "forms"


@pytest.fixture()
def org(session):
    made = make_org(session)
    session.commit()
    return made


@pytest.fixture()
def deployed(session):
    """The calendar and only this diagram (other diagrams in processes/ are other people's work)."""
    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2026)
    deploy_files(
        session=session,
        files={BPMN.name: BPMN.read_text(encoding="utf-8")},
        forms_dir=FORMS,
        deployed_by="test",
    )
    session.commit()


@pytest.fixture()
def flow(session, org, deployed):
    return Flow(session, org)


def form_errors(form: str, data: dict) -> list[str]:
    schema = json.loads((FORMS / form).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return sorted(e.message for e in validator.iter_errors(data))


class Flow:
    """Drives one project_approval instance the way the inbox would: find the open task of a
    step, check the form data against the task's form, complete it, commit."""

    def __init__(self, session, org):
        self.session = session
        self.org = org
        self.instance_id = None

    def submit(self, **overrides) -> ProcessInstance:
        instance = approvals.submit_application(
            session=self.session, data=application(self.org, **overrides), applicant=self.org.applicant
        )
        self.session.commit()
        self.instance_id = instance.id
        return instance

    @property
    def instance(self) -> ProcessInstance:
        self.session.expire_all()
        return self.session.get(ProcessInstance, self.instance_id)

    def open_tasks(self) -> list[HumanTask]:
        return self.session.scalars(
            sa.select(HumanTask)
            .filter_by(instance_id=self.instance_id, state="open")
            .order_by(HumanTask.element_id, HumanTask.assignee)
        ).all()

    def open_steps(self) -> list[str]:
        return sorted({t.element_id for t in self.open_tasks()})

    def task(self, element_id: str, assignee: str | None = None) -> HumanTask:
        tasks = [
            t
            for t in self.open_tasks()
            if t.element_id == element_id and (assignee is None or t.assignee == assignee)
        ]
        assert len(tasks) == 1, (
            f"expected one open {element_id} ({assignee}), found {[t.element_id for t in self.open_tasks()]}"
        )
        return tasks[0]

    def complete(self, element_id: str, data: dict, actor: str, *, assignee: str | None = None) -> None:
        task = self.task(element_id, assignee)
        assert form_errors(task.form, data) == [], f"{task.form} refuses {data}"
        workflow.complete_task(session=self.session, task_id=task.id, data=data, actor=actor)
        self.session.commit()

    # -- steps ----------------------------------------------------------------------------
    def accept(self, experts=("expert1", "expert2", "expert3")) -> None:
        self.complete(
            "intake",
            {"accepted": True, "experts": list(experts), "opinion": "材料齐全, 予以受理"},
            "fgw_window",
        )

    def review(
        self, department: str, approved: bool = True, opinion: str | None = None, *, sign: bool = True
    ) -> None:
        """The department's reviewer decides, then (unless `sign=False`) its head signs as is."""
        data = {"approved": approved}
        if opinion is not None or not approved:
            data["opinion"] = opinion or "不同意"
        self.complete(f"review_{department}", data, f"{department}_reviewer")
        if sign:
            self.sign(department)

    def sign(self, department: str, agree: bool = True, opinion: str | None = None) -> None:
        """The department head signs the reviewer's opinion (同意) or overrules it (不同意)."""
        data = {"head_approved": agree}
        if opinion is not None or not agree:
            data["head_opinion"] = opinion or "不同意审查意见"
        self.complete(f"sign_{department}", data, f"{department}_head")

    def expert(self, username: str, approved: bool = True, opinion: str = "") -> None:
        data = {"approved": approved, "opinion": opinion or ("同意" if approved else "技术方案论证不充分")}
        self.complete("expert_review", data, username, assignee=username)

    def approve_round(self, experts=("expert1", "expert2", "expert3")) -> None:
        for department in ("fgw", "cz", "zj", "zrzy", "sthj"):
            self.review(department)
        for username in experts:
            if "expert_review" not in self.open_steps():
                break
            self.expert(username)

    def data(self) -> dict:
        from backend.workflow.host import host_context, load_run

        return load_run(host_context(self.session), self.instance).data
