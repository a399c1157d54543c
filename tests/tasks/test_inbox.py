import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.tasks import service
from backend.tasks.errors import TaskActionError
from backend.tasks.models import TaskCopy
from backend.tasks.service import InboxFilters
from backend.workdays.service import end_of_day, set_day

from .conftest import NOW


def ids(page):
    return [row.task.id for row in page.rows]


def test_each_tab_shows_only_its_tasks(world, session):
    me = world.user("li", department=world.fgw)
    mine = world.task(assignee="li")
    world.task(assignee="li", state="completed")  # closed: not in my tasks
    world.task(assignee="wang")
    group = world.task(group="fgw.reviewer")
    world.task(group="cz.reviewer")
    done = world.task(assignee="li", state="completed", completed_by="li")
    copied = world.task(assignee="wang")
    session.add(TaskCopy(task_id=copied.id, instance_id=copied.instance_id, to_user="li", from_user="wang"))
    session.add(TaskCopy(task_id=copied.id, instance_id=copied.instance_id, to_user="li", from_user="zhao"))
    started = world.task(instance=world.instance(started_by="li"), assignee="zhao")
    session.flush()

    assert ids(service.my_tasks(session=session, user=me, now=NOW)) == [mine.id]
    assert ids(service.group_tasks(session=session, user=me, now=NOW)) == [group.id]
    assert ids(service.done_by_me(session=session, user=me, now=NOW)) == [done.id]
    assert ids(service.copied_to_me(session=session, user=me, now=NOW)) == [
        copied.id
    ]  # once, though copied twice
    assert ids(service.initiated_by_me(session=session, user=me, now=NOW)) == [started.id]
    assert service.tab_counts(session=session, user=me) == {
        "mine": 1,
        "group": 1,
        "done": 1,
        "copied": 1,
        "initiated": 1,
    }


def test_tab_counts_is_one_query(world, session):
    me = world.user("li", department=world.fgw)
    for _ in range(3):
        world.task(assignee="li")
    world.task()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        counts = service.tab_counts(session=session, user=me)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert counts["mine"] == 3 and counts["group"] == 1
    assert len(statements) == 1


def test_filters_by_process_business_key_and_region(world, session):
    me = world.user("li", department=world.fgw)
    world.project("P-HZ", "330100")
    world.project("P-SC", "330102")
    world.project("P-NB", "330200")
    hz = world.task(instance=world.instance(business_key="P-HZ"), assignee="li")
    sc = world.task(instance=world.instance(business_key="P-SC"), assignee="li")
    nb = world.task(instance=world.instance(business_key="P-NB", process_key="payment"), assignee="li")
    world.task(assignee="li")  # no project

    def page(**filters):
        return set(ids(service.my_tasks(session=session, user=me, filters=InboxFilters(**filters), now=NOW)))

    assert page(region_code="330100") == {hz.id, sc.id}  # the city and its districts
    assert page(region_code="330102") == {sc.id}
    assert page(region_code="330000") == {hz.id, sc.id, nb.id}
    assert page(process_key="payment") == {nb.id}
    assert page(business_key="P-SC") == {sc.id}
    assert page(process_key="approval", region_code="330200") == set()


def test_due_state_filter_agrees_with_each_rows_state(world, session):
    me = world.user("li", department=world.fgw)
    overdue = world.task(assignee="li", due_at=NOW - timedelta(hours=1))
    today = world.task(assignee="li", due_at=end_of_day(date(2026, 11, 18)))  # 0 days left
    tomorrow = world.task(assignee="li", due_at=end_of_day(date(2026, 11, 19)))  # 1 day left
    later = world.task(assignee="li", due_at=end_of_day(date(2026, 11, 20)))  # 2 days left
    undated = world.task(assignee="li")

    def page(due_state=None):
        return service.my_tasks(session=session, user=me, filters=InboxFilters(due_state=due_state), now=NOW)

    rows = {row.task.id: row for row in page().rows}
    assert [rows[t.id].days_left for t in (overdue, today, tomorrow, later, undated)] == [-1, 0, 1, 2, None]
    assert set(ids(page("overdue"))) == {overdue.id}
    assert set(ids(page("due_soon"))) == {today.id, tomorrow.id}
    assert set(ids(page("on_time"))) == {later.id, undated.id}
    for state in service.DUE_STATES:
        assert all(row.due_state == state for row in page(state).rows if row.task.due_at)
    with pytest.raises(ValueError):
        page("someday")


def test_due_soon_spans_the_weekend(world, session):
    """On a Friday a task due Monday has one working day left: due soon."""
    me = world.user("li", department=world.fgw)
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    monday = world.task(assignee="li", due_at=end_of_day(date(2026, 11, 23)))
    tuesday = world.task(assignee="li", due_at=end_of_day(date(2026, 11, 24)))
    page = service.my_tasks(session=session, user=me, filters=InboxFilters(due_state="due_soon"), now=friday)
    assert ids(page) == [monday.id]
    assert page.rows[0].days_left == 1
    assert tuesday.id not in ids(page)


def test_time_left_counts_working_days_around_a_holiday(world, session):
    me = world.user("li", department=world.fgw)
    for day in range(1, 8):  # 国庆节 2026: 1–7 October off, Saturday 10 October worked
        set_day(session=session, day=date(2026, 10, day), is_workday=False, name="国庆节")
    set_day(session=session, day=date(2026, 10, 10), is_workday=True, name="调休上班")
    eve = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday before the holiday
    first = world.task(assignee="li", due_at=end_of_day(date(2026, 10, 8)))
    second = world.task(assignee="li", due_at=end_of_day(date(2026, 10, 9)))
    weekend_worked = world.task(assignee="li", due_at=end_of_day(date(2026, 10, 10)))
    late = world.task(assignee="li", due_at=end_of_day(date(2026, 9, 30)))

    rows = {r.task.id: r for r in service.my_tasks(session=session, user=me, now=eve).rows}
    assert (rows[first.id].days_left, rows[first.id].due_state) == (1, "due_soon")
    assert (rows[second.id].days_left, rows[second.id].due_state) == (2, "on_time")
    assert rows[weekend_worked.id].days_left == 3
    assert rows[late.id].days_left == 0

    after = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    rows = {r.task.id: r for r in service.my_tasks(session=session, user=me, now=after).rows}
    # Only 8 and 9 October were worked since: two days late, not seven.
    assert (rows[late.id].days_left, rows[late.id].due_state) == (-2, "overdue")
    assert rows[first.id].days_left == -1


def test_keyset_pages_cover_everything_once_in_order(world, session):
    me = world.user("li", department=world.fgw)
    due = NOW + timedelta(days=3)
    tasks = [
        world.task(assignee="li", due_at=due, created_at=NOW),
        world.task(assignee="li", due_at=due, created_at=NOW),  # tie on due and created: id decides
        world.task(assignee="li", due_at=due - timedelta(days=1), created_at=NOW + timedelta(minutes=5)),
        world.task(assignee="li", created_at=NOW - timedelta(days=1)),
        world.task(assignee="li", created_at=NOW),
        world.task(assignee="li", created_at=NOW),
        world.task(assignee="li", due_at=due + timedelta(days=9), created_at=NOW - timedelta(days=2)),
    ]
    expected = [tasks[i].id for i in (2, 0, 1, 6, 3, 4, 5)]  # soonest first, undated last
    seen, cursor, pages = [], None, 0
    while True:
        page = service.my_tasks(session=session, user=me, cursor=cursor, limit=2, now=NOW)
        seen += ids(page)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert pages == 4
    # A task added before the cursor's position does not shift the next page.
    first = service.my_tasks(session=session, user=me, limit=2, now=NOW)
    world.task(assignee="li", due_at=NOW, created_at=NOW)
    second = service.my_tasks(session=session, user=me, cursor=first.next_cursor, limit=2, now=NOW)
    assert ids(second) == expected[2:4]


def test_a_broken_cursor_is_refused(world, session):
    me = world.user("li", department=world.fgw)
    with pytest.raises(TaskActionError, match="分页参数无效"):
        service.my_tasks(session=session, user=me, cursor="not-a-cursor", now=NOW)
    naive = base64.urlsafe_b64encode(json.dumps([None, "2026-01-01T00:00:00", "t1"]).encode()).decode()
    with pytest.raises(TaskActionError, match="分页参数无效"):
        service.my_tasks(session=session, user=me, cursor=naive, now=NOW)


def test_days_left_agrees_with_the_calendar_over_a_year(world, session):
    """The page-at-once count equals the calendar's own count, holidays included."""
    from backend.workdays.service import get_calendar

    for day in range(1, 8):
        set_day(session=session, day=date(2026, 10, day), is_workday=False, name="国庆节")
    calendar = get_calendar(session=session)
    dues = [NOW + timedelta(days=d, hours=h) for d in range(-200, 200, 7) for h in (0, 13)] + [None]
    expected = []
    for due in dues:
        if due is None:
            expected.append(None)
            continue
        left = calendar.working_days_between(NOW, due - timedelta(microseconds=1))
        expected.append(min(left, -1) if due <= NOW else left)
    assert service._days_left_all(calendar, dues, NOW) == expected
    assert service.days_left(calendar=calendar, due_at=dues[0], now=NOW) == expected[0] < -100


def test_days_left_over_years_with_holidays_in_each(world, session):
    """已办 pages span years: the count without walking the days still equals the calendar's."""
    from backend.workdays.service import get_calendar

    for year in (2023, 2024, 2025, 2026):
        for day in range(1, 8):
            set_day(session=session, day=date(year, 10, day), is_workday=False, name="国庆节")
        set_day(session=session, day=date(year, 9, 27), is_workday=True, name="调休上班")  # any weekday
    set_day(session=session, day=date(2024, 9, 28), is_workday=True, name="调休上班")  # a Saturday
    calendar = get_calendar(session=session)
    dues = [NOW - timedelta(days=d, hours=h) for d in range(0, 3 * 365, 11) for h in (0, 17)]
    dues += [NOW + timedelta(days=d) for d in (1, 40, 400)]
    expected = []
    for due in dues:
        left = calendar.working_days_between(NOW, due - timedelta(microseconds=1))
        expected.append(min(left, -1) if due <= NOW else left)
    assert service._days_left_all(calendar, dues, NOW) == expected
    assert min(expected) < -700


def test_keyset_pages_under_a_due_filter_cross_from_dated_to_undated(world, session):
    """on_time = due later than soon, or undated: page by page, in order, the dated first."""
    me = world.user("li", department=world.fgw)
    later = [world.task(assignee="li", due_at=NOW + timedelta(days=10 + i)) for i in range(3)]
    world.task(assignee="li", due_at=NOW + timedelta(hours=1))  # due soon: not on time
    world.task(assignee="li", due_at=NOW - timedelta(days=1))  # overdue
    undated = [world.task(assignee="li", created_at=NOW + timedelta(minutes=i)) for i in range(3)]

    def pages(due_state):
        seen, cursor = [], None
        for _ in range(10):  # a cursor that does not advance must fail, not hang
            page = service.my_tasks(
                session=session,
                user=me,
                filters=InboxFilters(due_state=due_state),
                cursor=cursor,
                limit=2,
                now=NOW,
            )
            seen += ids(page)
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor
        raise AssertionError(f"no last page: {seen}")

    assert pages("on_time") == [t.id for t in later + undated]
    assert pages(None)[-3:] == [t.id for t in undated]
    # A cursor among the undated never brings back a dated task, nor one under a filter
    # that has no undated tasks.
    first = service.my_tasks(
        session=session, user=me, filters=InboxFilters(due_state="on_time"), limit=4, now=NOW
    )
    assert ids(first)[-1] == undated[0].id
    rest = service.my_tasks(
        session=session, user=me, filters=InboxFilters(due_state="on_time"), cursor=first.next_cursor, now=NOW
    )
    assert ids(rest) == [undated[1].id, undated[2].id]
    assert (
        service.my_tasks(
            session=session,
            user=me,
            filters=InboxFilters(due_state="overdue"),
            cursor=first.next_cursor,
            now=NOW,
        ).rows
        == []
    )


def test_initiated_reads_only_instances_still_going(world, session):
    """A finished instance has no open task (host.save closes them), so the tab and its count
    do not look at them: a stray open row of one stays out."""
    me = world.user("li", department=world.fgw)
    going = world.task(instance=world.instance(started_by="li"), assignee="zhao")
    finished = world.instance(started_by="li")
    finished.state = "completed"
    world.task(instance=finished, assignee="zhao")
    assert ids(service.initiated_by_me(session=session, user=me, now=NOW)) == [going.id]
    assert service.tab_counts(session=session, user=me)["initiated"] == 1


def test_counts_for_someone_without_groups(world, session):
    applicant = world.user("applicant", roles=())
    world.task(instance=world.instance(started_by="applicant"), group="fgw.reviewer")
    world.task(instance=world.instance(started_by="wang"), group="")  # "" is no group of anyone
    assert service.tab_counts(session=session, user=applicant) == {
        "mine": 0,
        "group": 0,
        "done": 0,
        "copied": 0,
        "initiated": 1,
    }
