"""The instance page's history: every event row, newest first, with its actor and the time in
Asia/Shanghai, a page of 50 at a time."""

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.cockpit import service as cockpit
from backend.workflow import service
from backend.workflow.models import Event
from tests.cockpit.conftest import signed_in

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def _rows(html: str) -> list[tuple[str, str, str]]:
    """(time, kind, actor) of each history row, in page order."""
    table = html.split("data-history")[1].split("</table>")[0]
    return re.findall(
        r'<tr data-event="[^"]*"><td>([^<]*)</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>', table
    )


def test_history_newest_first_in_shanghai_time_and_paged(app, session, deployed, users):
    instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 1})
    service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="核查")
    session.flush()
    own = session.scalar(sa.select(sa.func.count()).select_from(Event).filter_by(instance_id=instance.id))
    for i in range(60):
        session.add(
            Event(
                instance_id=instance.id,
                at=T0 + timedelta(minutes=i),
                kind="operator.note",
                actor=f"user{i:02d}",
                detail={"n": i},
            )
        )
    session.commit()
    ops = signed_in(app, "ops")

    first = ops.get(f"/cockpit/instances/{instance.id}").get_data(as_text=True)
    rows = _rows(first)
    assert len(rows) == 50
    # Newest first; 2026-03-02 01:59 UTC is 09:59 in Shanghai.
    assert rows[0] == ("2026-03-02 09:59:00", "operator.note", "user59")
    assert rows[49] == ("2026-03-02 09:10:00", "operator.note", "user10")
    older = re.search(r'data-history-older href="([^"]+)"', first).group(1).replace("&amp;", "&")

    second = ops.get(older).get_data(as_text=True)
    rest = _rows(second)
    assert [r[2] for r in rest[:10]] == [f"user{i:02d}" for i in range(9, -1, -1)]
    assert len(rest) == 10 + own
    # The instance's own events come last, the oldest one (started) at the very end.
    assert rest[-1][1] == "started"
    assert ("suspended", "ops") in {(kind, actor) for _at, kind, actor in rest}
    assert "data-history-older" not in second


def test_history_page_function_pages_on_the_event_id(session, deployed):
    instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 1})
    session.commit()
    everything = cockpit.history(session=session, instance_id=instance.id)
    ids = [e.id for e in everything.events]
    assert ids == sorted(ids, reverse=True) and everything.next_before is None
    page = cockpit.history(session=session, instance_id=instance.id, limit=1)
    assert [e.id for e in page.events] == ids[:1] and page.next_before == ids[0]
    assert [
        e.id for e in cockpit.history(session=session, instance_id=instance.id, before=ids[0]).events
    ] == ids[1:]
