"""The demo loader: quiet without projects, three tickets in different states, idempotent."""

import sqlalchemy as sa

from backend.tickets.demo import DEMO_TICKETS, load_demo_tickets
from backend.tickets.models import Ticket
from backend.workflow.models import HumanTask, ProcessDefinition


def test_nothing_without_projects(session, deployed):
    assert load_demo_tickets(session=session) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_loads_tickets_in_different_states_once(session, org):
    # Not deployed yet: the loader deploys its own diagram (the calendar may be empty too).
    assert load_demo_tickets(session=session) == len(DEMO_TICKETS)
    session.commit()
    assert session.scalar(sa.select(ProcessDefinition.key)) == "rectification"

    tickets = session.scalars(sa.select(Ticket).order_by(Ticket.id)).all()
    assert [(t.status, t.rounds) for t in tickets] == [("dispatched", 0), ("verifying", 1), ("closed", 2)]
    assert [h["verdict"] for h in tickets[2].history] == ["failed", "passed"]
    open_steps = session.scalars(
        sa.select(HumanTask.element_id).filter_by(state="open").order_by(HumanTask.instance_id)
    ).all()
    assert open_steps == ["rectify", "verify"]

    assert load_demo_tickets(session=session) == 0
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == len(DEMO_TICKETS)
