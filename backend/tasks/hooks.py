"""The inbox listening to the workflow host: people hear of new, returned, reminded and
escalated tasks. The workflow never imports the inbox; it calls the listeners registered
here (imported by backend.tasks.init_app)."""

from datetime import timedelta

from backend.org.models import User
from backend.org.service import active_members
from backend.tasks.mail import queue_mail
from backend.tasks.models import Notification
from backend.workdays.service import local_date
from backend.workflow.models import HumanTask
from backend.workflow.registry import OpenCause, on_tasks_marked, on_tasks_opened


def _label(task: HumanTask) -> str:
    label = task.title or task.element_id
    return f"{label} ({task.business_key})" if task.business_key else label


class _People:
    """The active people a batch of tasks reaches, read in one query."""

    def __init__(self, session, tasks, *, also: str | None = None, also_group: str | None = None):
        self.users: list[User] = active_members(
            session=session,
            groups={t.candidate_group for t in tasks if not t.assignee} | {also_group},
            usernames={t.assignee for t in tasks if t.assignee} | {also, also_group},
        )
        self.by_name = {u.username: u for u in self.users}

    def holders(self, task: HumanTask) -> list[str]:
        """Whoever has the task: its assignee, or the members of its group while unclaimed.
        An inactive assignee reaches nobody."""
        if task.assignee:
            return [task.assignee] if task.assignee in self.by_name else []
        return self.members(task.candidate_group)

    def members(self, group_or_user: str | None) -> list[str]:
        if not group_or_user:
            return []
        members = [u.username for u in self.users if group_or_user in u.groups]
        if not members and group_or_user in self.by_name:
            members = [group_or_user]
        return members

    def name(self, username: str | None) -> str:
        user = self.by_name.get(username)
        return user.display_name if user else (username or "")


def _notify_batch(session, entries, *, now=None) -> list[Notification]:
    """entries: (usernames, kind, title, task). One notification per person per entry;
    flushed together and their mails queued together."""
    created = []
    for usernames, kind, title, task in entries:
        for username in dict.fromkeys(usernames):
            note = Notification(
                user=username,
                kind=kind,
                title=title[:300],
                link=f"/tasks/{task.id}",
                instance_id=task.instance_id,
                task_id=task.id,
            )
            if now is not None:
                note.created_at = now
            session.add(note)
            created.append(note)
    if created:
        session.flush()
        queue_mail(session=session, notifications=created)
    return created


@on_tasks_opened
def tell_about_opened_tasks(*, session, tasks, cause: OpenCause | None) -> None:
    """新任务 for the assignee, or the group while unclaimed; 退回 when a return reopened it."""
    if cause is not None and cause.kind == "withdrawn":
        return  # the step goes back to the desk of whoever withdrew it
    returned = cause is not None and cause.kind == "returned"
    actor = cause.actor if cause is not None else None
    people = _People(session, tasks, also=actor if returned else None)
    entries = []
    for task in tasks:
        recipients = [u for u in people.holders(task) if u != actor]
        if returned:
            title = f"{people.name(actor)} 退回任务「{_label(task)}」: {cause.reason}"
            entries.append((recipients, "returned", title, task))
        elif task.assignee:
            entries.append((recipients, "new_task", f"新任务「{_label(task)}」待您办理", task))
        else:
            entries.append((recipients, "new_task", f"新任务「{_label(task)}」待签收", task))
    _notify_batch(session, entries)


@on_tasks_marked
def tell_about_time_limits(*, session, tasks, mark: str, escalated_to: str | None, now) -> None:
    """办理提醒 to whoever has the task; at the limit, 督办 to the escalation target too."""
    # The escalation goes to a group (fgw.head) or one person.
    people = _People(session, tasks, also_group=escalated_to)
    entries = []
    for task in tasks:
        holders = people.holders(task)
        if mark == "reminded":
            due = f", 办理期限 {local_date(task.due_at - timedelta(seconds=1))}" if task.due_at else ""
            entries.append((holders, "reminded", f"任务「{_label(task)}」即将到期{due}, 请及时办理", task))
            continue
        entries.append((holders, "escalated", f"任务「{_label(task)}」已超过办理时限, 已提交督办", task))
        targets = [u for u in people.members(escalated_to) if u not in holders]
        who = people.name(task.assignee) if task.assignee else f"{task.candidate_group} (待签收)"
        title = f"督办: 任务「{_label(task)}」已超过办理时限, 办理人 {who}"
        entries.append((targets, "escalated", title, task))
    _notify_batch(session, entries, now=now)
