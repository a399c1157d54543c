"""Who may read a stored file.

A blob is content-addressed and may belong to several processes, so access follows the
process instances that reference it (`file_ref`, written when a form is submitted or a
process starts with files in its data): whoever may see one of those instances may read
the file. "May see an instance" is the task page's rule (tasks.service._involved): started
it; has, had or was offered a task in it; acted on or was named in one of its inbox
operations; got a copy (抄送); or heads the department of one of its tasks. The uploader
may read what they uploaded (`file_upload`) before any instance references it.

Plain keyword-only functions over the session; none commits.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from backend.db import utcnow
from backend.files.models import FileRef, FileUpload, StoredFile
from backend.org.models import User

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Other domains' rules, e.g. a WBS progress photo: whoever sees its project
# (backend/schedule/access.py). Each is `rule(user, hashes) -> SELECT (sha256, name, at)` of
# the files among `hashes` the user may read there; registered by the domain's init_app.
READERS: list = []


def register_reader(rule):
    if rule not in READERS:
        READERS.append(rule)
    return rule


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def files_in(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str, str | None]]:
    """(path, sha256, name) of every file form data refers to: objects {sha256, name} (a
    document row) and lists of bare hashes. The path is that of the sha256 value."""
    if isinstance(data, dict):
        sha256 = data.get("sha256")
        if is_sha256(sha256):
            name = data.get("name")
            yield path + ("sha256",), sha256, name if isinstance(name, str) and name.strip() else None
        for key, value in data.items():
            if key != "sha256" and isinstance(value, dict | list):
                yield from files_in(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            if is_sha256(value):
                yield path + (i,), value, None
            elif isinstance(value, dict | list):
                yield from files_in(value, path + (i,))


def record_upload(*, session, sha256: str, username: str, name: str | None) -> None:
    """Remember that `username` uploaded this blob (once per person and blob)."""
    if session.get(FileUpload, (sha256, username)) is None:
        session.add(FileUpload(sha256=sha256, uploaded_by=username, name=_clip(name), uploaded_at=utcnow()))
        session.flush()


def reference(*, session, instance_id: int, data: Any) -> int:
    """Record that the instance references every stored file found in `data`; returns how
    many references are new. Hashes of files that were never stored are ignored."""
    found: dict[str, str | None] = {}
    for _path, sha256, name in files_in(data):
        if found.get(sha256) is None:
            found[sha256] = name
    if not found:
        return 0
    stored = set(session.scalars(sa.select(StoredFile.sha256).where(StoredFile.sha256.in_(found))))
    known = set(
        session.scalars(
            sa.select(FileRef.sha256).where(FileRef.instance_id == instance_id, FileRef.sha256.in_(found))
        )
    )
    new = [sha256 for sha256 in found if sha256 in stored and sha256 not in known]
    now = utcnow()
    session.add_all(
        FileRef(sha256=sha256, instance_id=instance_id, name=_clip(found[sha256]), created_at=now)
        for sha256 in new
    )
    session.flush()
    return len(new)


def readable(*, session, user: User, hashes: Iterable[str]) -> set[str]:
    """The hashes among `hashes` that `user` may read: one query, whatever their number."""
    wanted = {h for h in hashes if is_sha256(h)}
    if not wanted or user is None or not getattr(user, "is_authenticated", False):
        return set()
    by_ref = sa.select(FileRef.sha256).where(FileRef.sha256.in_(wanted), _instance_visible(user))
    by_upload = sa.select(FileUpload.sha256).where(
        FileUpload.sha256.in_(wanted), FileUpload.uploaded_by == user.username
    )
    others = [sa.select(rule(user, wanted).subquery().c[0]) for rule in READERS]
    return set(session.scalars(sa.union(by_ref, by_upload, *others)))


def may_read(*, session, user: User, sha256: str) -> bool:
    return sha256 in readable(session=session, user=user, hashes=[sha256])


def download_name(*, session, user: User, sha256: str) -> str | None:
    """The name the file was given in a place `user` may see it; None when they may not."""
    if not is_sha256(sha256):
        return None
    by_ref = sa.select(FileRef.name, FileRef.created_at).where(
        FileRef.sha256 == sha256, _instance_visible(user)
    )
    by_upload = sa.select(FileUpload.name, FileUpload.uploaded_at).where(
        FileUpload.sha256 == sha256, FileUpload.uploaded_by == user.username
    )
    others = []
    for rule in READERS:
        found = rule(user, [sha256]).subquery()
        others.append(sa.select(found.c[1], found.c[2]))
    union = sa.union_all(by_ref, by_upload, *others).subquery()
    row = session.execute(sa.select(union.c[0]).order_by(union.c[1].desc()).limit(1)).first()
    if row is None:
        return None
    return row[0] or sha256[:12]


def unreferable(*, session, user: User, data: Any) -> dict[str, str]:
    """Files in submitted form data that `user` neither uploaded nor may read, as form errors
    by dotted field path. A hash is a capability: knowing one must not open the file."""
    found = list(files_in(data))
    if not found:
        return {}
    allowed = readable(session=session, user=user, hashes={sha256 for _p, sha256, _n in found})
    return {
        ".".join(str(p) for p in path): f"文件 {name or sha256[:12]} 不存在或无权引用, 请重新上传"
        for path, sha256, name in found
        if sha256 not in allowed
    }


def _instance_visible(user: User):
    """SQL condition on FileRef.instance_id: `user` may see that instance."""
    # Imported here: the access rule is the inbox's, and files is a lower layer than tasks.
    from backend.authz.scope import scope_of, task_clause
    from backend.tasks.models import TaskAction, TaskCopy
    from backend.workflow.models import HumanTask, ProcessInstance

    name = user.username
    groups = sorted(user.groups)
    task_of_mine = [HumanTask.assignee == name, HumanTask.completed_by == name]
    of_my_groups = []
    if groups:
        of_my_groups.append(HumanTask.candidate_group.in_(groups))
    # A head (<department>.head) sees the instances with a task for their department.
    for group in groups:
        department, dot, role = group.partition(".")
        if dot and department != "unit" and role == "head":
            of_my_groups.append(HumanTask.candidate_group.startswith(f"{department}.", autoescape=True))
    if of_my_groups:
        # Through a group only within the person's data scope (backend.authz.scope).
        scope = scope_of(user)
        by_group = sa.or_(*of_my_groups)
        task_of_mine.append(by_group if scope.all else sa.and_(by_group, task_clause(scope)))
    ref = FileRef.instance_id
    return sa.or_(
        sa.exists().where(ProcessInstance.id == ref, ProcessInstance.started_by == name),
        sa.exists().where(HumanTask.instance_id == ref, sa.or_(*task_of_mine)),
        sa.exists().where(
            TaskAction.instance_id == ref, sa.or_(TaskAction.actor == name, TaskAction.target_user == name)
        ),
        sa.exists().where(TaskCopy.instance_id == ref, TaskCopy.to_user == name),
    )


def _clip(name: str | None) -> str | None:
    return name.strip()[:255] if isinstance(name, str) and name.strip() else None
