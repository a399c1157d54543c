"""The demo loader: five applications in five states, and nothing new on a second run."""

import sqlalchemy as sa

from backend.approvals.demo import load_approvals
from backend.approvals.models import ApprovalDocument
from backend.org.models import Region
from backend.projects.models import Project
from backend.workflow.models import HumanTask, ProcessInstance


def _open_steps(session, code):
    return sorted(
        set(session.scalars(sa.select(HumanTask.element_id).filter_by(business_key=code, state="open")))
    )


def test_demo_needs_the_diagram(session, org):
    assert load_approvals(session=session) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0


def test_demo_loads_each_state_once(session, org, deployed):
    session.add_all(
        [
            Region(code=code, name=name, level="county", parent_code="330100")
            for code, name in (("330105", "拱墅区"), ("330108", "滨江区"), ("330110", "余杭区"))
        ]
    )
    session.commit()

    assert load_approvals(session=session) == 5
    session.commit()
    statuses = dict(session.execute(sa.select(Project.code, Project.status)).all())
    assert statuses == {
        "2025-330106-48-01-00101A": "applying",
        "2025-330108-48-01-00102B": "applying",
        "2025-330110-48-01-00103C": "returned",
        "2025-330105-48-01-00104D": "approved",
        "2025-330106-48-01-00105E": "applying",
    }
    assert _open_steps(session, "2025-330106-48-01-00101A") == ["intake"]
    assert _open_steps(session, "2025-330108-48-01-00102B") == [
        "expert_review",
        "review_cz",
        "review_sthj",
        "review_zrzy",
        "sign_fgw",
        "sign_zj",
    ]
    # every review given: waiting for the five heads' signatures (and the experts)
    assert _open_steps(session, "2025-330106-48-01-00105E") == [
        "expert_review",
        *(f"sign_{d}" for d in ("cz", "fgw", "sthj", "zj", "zrzy")),
    ]
    assert _open_steps(session, "2025-330110-48-01-00103C") == ["revise"]
    assert _open_steps(session, "2025-330105-48-01-00104D") == []
    (number,) = session.scalars(sa.select(ApprovalDocument.number)).all()
    assert number.startswith("浙发改审批〔") and number.endswith("〕1号")

    assert load_approvals(session=session) == 0
    session.commit()
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(ProcessInstance).filter_by(process_key="project_approval")
        )
        == 5
    )
