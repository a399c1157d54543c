"""Who may see a project's breakdown and who may report progress on its leaves: one rule for
the progress page, "我的进度任务", the REST API and the evidence files.

- Report on a leaf: its responsible person (WbsItem.responsible = username); people of its
  responsible unit (unit_id) holding `schedule.edit` or `site.checkin`; people of the
  project's owner unit holding `schedule.edit`.
- See the breakdown, an item's progress history and its evidence files: whoever sees the
  project (data scope, backend.authz.scope), and whoever is responsible, in person or through
  their unit as above, for some item of the project. A contractor responsible for an item is
  neither of the owner unit nor, usually, of the project's region, and must still reach it.
  An API key's region bounds both.
- Pages and API answer 404 for what the person may not see (existence is not revealed) and
  403 for a report by someone who sees the item but may not report on it.
"""

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from backend.authz import has_permission
from backend.authz.scope import Scope, project_clause, project_in, scope_of
from backend.projects.models import Project
from backend.schedule.models import WbsItem, WbsProgress, WbsProgressFile

UNIT_REPORTERS = ("schedule.edit", "site.checkin")


def _unit_reports(user) -> bool:
    return user.unit_id is not None and any(has_permission(user, p) for p in UNIT_REPORTERS)


def may_report(user, item: WbsItem, project: Project) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if item.responsible and item.responsible == user.username:
        return True
    if item.unit_id is not None and item.unit_id == user.unit_id and _unit_reports(user):
        return True
    return project.owner_unit_id == user.unit_id and has_permission(user, "schedule.edit")


def responsible_clause(user, item=WbsItem):
    """SQL: the items `user` is responsible for, in person or through their unit ("mine")."""
    parts = [item.responsible == user.username]
    if _unit_reports(user):
        parts.append(item.unit_id == user.unit_id)
    return sa.or_(*parts)


def _within(scope: Scope, project) -> bool:
    return scope.within is None or project.region_code in scope.within


def sees_project(*, session, user, project: Project, scope: Scope | None = None) -> bool:
    scope = scope if scope is not None else scope_of(user, session=session)
    if project_in(scope, project):
        return True
    if not _within(scope, project):
        return False
    return (
        session.scalar(
            sa.select(sa.literal(1))
            .where(WbsItem.project_id == project.id, responsible_clause(user))
            .limit(1)
        )
        is not None
    )


def find_project(*, session, user, code: str, scope: Scope | None = None) -> Project | None:
    """The project with this code when `user` may see its breakdown, else None."""
    project = session.scalar(sa.select(Project).where(Project.code == code))
    if project is None or not sees_project(session=session, user=user, project=project, scope=scope):
        return None
    return project


def find_item(*, session, project: Project, code: str) -> WbsItem | None:
    return session.scalar(sa.select(WbsItem).where(WbsItem.project_id == project.id, WbsItem.code == code))


def readable_files(user, hashes):
    """files.access reader: (sha256, name, recorded_at) of progress evidence among `hashes`
    whose project `user` sees (the rule above, as SQL)."""
    from backend.extensions import db

    scope = scope_of(user, session=db.session)
    mine = aliased(WbsItem)
    involved = sa.exists().where(mine.project_id == Project.id, responsible_clause(user, mine))
    if scope.within is not None:
        involved = sa.and_(involved, Project.region_code.in_(sorted(scope.within)))
    return (
        sa.select(WbsProgressFile.sha256, WbsProgressFile.name, WbsProgress.recorded_at)
        .join(WbsProgress, WbsProgress.id == WbsProgressFile.progress_id)
        .join(WbsItem, WbsItem.id == WbsProgress.item_id)
        .join(Project, Project.id == WbsItem.project_id)
        .where(WbsProgressFile.sha256.in_(list(hashes)), sa.or_(project_clause(scope), involved))
    )
