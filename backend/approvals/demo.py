"""Demo approvals (`flask demo load`): five applications of the demo owner unit, one in each
state a reviewer meets: just submitted, in parallel review with some branches decided (two of
them waiting for their head's signature), every review given and waiting for the heads'
signatures (会签签署, so fgw_head's queue has two to sign at once), returned to the applicant
with the round's opinions, and approved with its 批复.

Runs after the org loader and after `processes deploy` (make run does both first); without
the demo people or the deployed diagram it creates nothing. Idempotent by 项目代码 (the
business key): an application that exists is left as it is.
"""

import sqlalchemy as sa

from backend.approvals.service import PROCESS_KEY, submit_application
from backend.demo import loader
from backend.files import service as files
from backend.org.models import Region, User
from backend.projects.models import Project
from backend.workflow import service as workflow
from backend.workflow.errors import ProcessNotFound
from backend.workflow.models import HumanTask

DEPARTMENTS = ("fgw", "cz", "zj", "zrzy", "sthj")
EXPERTS = ("expert1", "expert2", "expert3")
PEOPLE = (
    "applicant",
    "fgw_window",
    *(f"{d}_reviewer" for d in DEPARTMENTS),
    *(f"{d}_head" for d in DEPARTMENTS),
    *EXPERTS,
)

# code, name, region, total (yuan), funding, scale and content, state
APPLICATIONS = (
    (
        "2025-330106-48-01-00101A",
        "杭州市西湖区之江路地下综合管廊二期工程",
        "330106",
        [("中央预算内资金", "20000000.00"), ("地方政府专项债券", "45000000.00"), ("企业自筹", "21500000.00")],
        "新建综合管廊 2.6 公里, 含电力、通信、给水舱室及监控中心。",
        "submitted",
    ),
    (
        "2025-330108-48-01-00102B",
        "杭州市滨江区江南大道快速路提升改造工程",
        "330108",
        [("地方政府专项债券", "180000000.00"), ("企业自筹", "62000000.00")],
        "快速路主线高架 4.1 公里, 匝道 4 对, 同步实施排水、照明与交通设施。",
        "reviewing",
    ),
    (
        "2025-330110-48-01-00103C",
        "杭州市余杭区良渚片区污水处理厂扩建工程",
        "330110",
        [("中央预算内资金", "30000000.00"), ("企业自筹", "48800000.00")],
        "新增污水处理规模 5 万吨/日, 配套进出水管网 6.3 公里。",
        "returned",
    ),
    (
        "2025-330105-48-01-00104D",
        "杭州市拱墅区运河新城学校建设工程",
        "330105",
        [("地方财政资金", "96000000.00"), ("企业自筹", "12000000.00")],
        "新建 36 班九年一贯制学校, 总建筑面积 5.2 万平方米。",
        "approved",
    ),
    (
        "2025-330106-48-01-00105E",
        "杭州市西湖区三墩北单元保障性租赁住房项目",
        "330106",
        [("中央预算内资金", "25000000.00"), ("地方政府专项债券", "70000000.00"), ("企业自筹", "33600000.00")],
        "新建保障性租赁住房 1260 套, 总建筑面积 9.8 万平方米, 配套地下车库及社区服务用房。",
        "signing",
    ),
)


@loader
def load_approvals(*, session) -> int:
    """项目申报与并联审批 (五个不同状态的申报)"""
    people = {u.username: u for u in session.scalars(sa.select(User).where(User.username.in_(PEOPLE)))}
    if len(people) < len(PEOPLE) or people["applicant"].unit_id is None:
        return 0
    try:
        workflow.latest_definition(session=session, process_key=PROCESS_KEY)
    except ProcessNotFound:
        return 0
    applicant = people["applicant"]
    created = 0
    for code, name, region_code, funding, scale, state in APPLICATIONS:
        if session.scalar(sa.select(Project.id).filter_by(code=code)) is not None:
            continue
        if session.get(Region, region_code) is None:
            continue
        data = _application(session, applicant, code, name, region_code, funding, scale)
        instance = submit_application(session=session, data=data, applicant=applicant)
        _advance(session, instance.id, state)
        created += 1
    return created


def _application(session, applicant, code, name, region_code, funding, scale) -> dict:
    total = sum((_cents(amount) for _source, amount in funding), 0)
    documents = []
    for kind, label in (
        ("proposal", "项目建议书"),
        ("feasibility", "可行性研究报告"),
        ("preliminary_design", "初步设计"),
    ):
        stored = files.store(session=session, data=_demo_pdf(f"{code} {kind}"), declared_name=f"{label}.pdf")
        documents.append({"kind": kind, "sha256": stored.sha256, "name": f"{name}{label}.pdf"})
    return {
        "project_name": name,
        "project_code": code,
        "owner_unit_id": applicant.unit_id,
        "region_code": region_code,
        "industry": "市政公用设施",
        "nature": "new",
        "total_investment": f"{total // 100}.{total % 100:02d}",
        "funding_sources": [{"source": source, "amount": amount} for source, amount in funding],
        "planned_start": "2026-04-01",
        "planned_end": "2028-12-31",
        "scale_content": scale,
        "contact_name": "张伟",
        "contact_phone": "0571-87016688",
        "documents": documents,
    }


def _advance(session, instance_id: int, state: str) -> None:
    if state == "submitted":
        return
    _complete(
        session,
        instance_id,
        "intake",
        "fgw_window",
        {"accepted": True, "experts": list(EXPERTS), "opinion": "材料齐全, 予以受理"},
    )
    if state == "reviewing":
        # 发改 and 住建 have reviewed; their heads have yet to sign (会签签署).
        _complete(session, instance_id, "review_fgw", "fgw_reviewer", {"approved": True, "opinion": "同意"})
        _complete(session, instance_id, "review_zj", "zj_reviewer", {"approved": True})
        _complete(
            session,
            instance_id,
            "expert_review",
            "expert1",
            {"approved": True, "opinion": "方案可行"},
            assignee="expert1",
        )
        return
    if state == "signing":
        for department, opinion in SIGNING_OPINIONS.items():
            _complete(
                session,
                instance_id,
                f"review_{department}",
                f"{department}_reviewer",
                {"approved": True, "opinion": opinion},
            )
        return
    for department in DEPARTMENTS:
        rejected = state == "returned" and department == "cz"
        decision = (
            {"approved": False, "opinion": "地方配套资金来源未落实, 请补充资金承诺文件"}
            if rejected
            else {"approved": True}
        )
        _complete(session, instance_id, f"review_{department}", f"{department}_reviewer", decision)
        _complete(session, instance_id, f"sign_{department}", f"{department}_head", {"head_approved": True})
    for expert in EXPERTS[:2]:
        _complete(
            session,
            instance_id,
            "expert_review",
            expert,
            {"approved": True, "opinion": "同意"},
            assignee=expert,
        )


SIGNING_OPINIONS = {
    "fgw": "符合省重点建设项目布局, 同意",
    "cz": "资金来源已落实, 同意",
    "zj": "建设标准符合保障性住房规范, 同意",
    "zrzy": "用地已纳入年度供地计划, 同意",
    "sthj": "环评审查意见已落实, 同意",
}


def _complete(session, instance_id, element_id, actor, data, *, assignee=None) -> None:
    query = sa.select(HumanTask.id).filter_by(instance_id=instance_id, element_id=element_id, state="open")
    if assignee is not None:
        query = query.filter_by(assignee=assignee)
    task_id = session.scalar(query.limit(1))
    workflow.complete_task(session=session, task_id=task_id, data=data, actor=actor)


def _cents(amount: str) -> int:
    yuan, _, fen = amount.partition(".")
    return int(yuan) * 100 + int(fen or 0)


def _demo_pdf(title: str) -> bytes:
    """A one-page PDF naming the document (ASCII title): enough to be stored, sniffed, opened."""
    stream = f"BT /F1 14 Tf 72 760 Td (Demo: {title}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
