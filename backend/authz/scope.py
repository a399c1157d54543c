"""Data scope: which projects, process instances and tasks a person may see.

A person sees the projects of their region and every region under it (department staff without a
region of their own: their department's region), and of their own unit (the applicant's projects), unless granted "scope.all".
Instances and tasks belong to their project through the business key (项目代码); an instance
tied to no project is seen by people of a top-level region only. Tasks on a person's own desk
(assignee) stay visible whatever their project: a person must be able to do what was given to them.

One builder for SQL (`project_clause`, `business_key_clause`, `task_clause`) and one object
check (`sees_project`, `sees_business_key`) — the same rule for pages, API, exports and search.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from backend.org.models import Region


@dataclass(frozen=True)
class Scope:
    all: bool
    regions: frozenset[str]
    unit_id: int | None
    username: str | None
    # A top-level region: also sees what belongs to no project.
    whole_tree: bool

    @property
    def unrestricted(self) -> bool:
        return self.all


NOTHING = Scope(all=False, regions=frozenset(), unit_id=None, username=None, whole_tree=False)


def scope_of(user, *, session=None) -> Scope:
    """The person's scope (cached for the request)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    from backend.authz import request_cache

    cache = request_cache()
    if cache is None:
        return _compute(user, session=session)
    scopes = cache.setdefault("scopes", {})
    found = scopes.get(user.id)
    if found is None:
        found = scopes[user.id] = _compute(user, session=session)
    return found


def _compute(user, *, session=None) -> Scope:
    from backend.authz import has_permission
    from backend.extensions import db
    from backend.org.service import descendant_codes

    session = session or db.session
    everything = Scope(
        all=True, regions=frozenset(), unit_id=user.unit_id, username=user.username, whole_tree=True
    )
    # The person's own region; department staff with none recorded take their department's.
    roots = {user.region_code} if user.region_code else set()
    if not roots and user.department is not None and user.department.region_code:
        roots.add(user.department.region_code)
    # 行政区划 codes (GB/T 2260): a province's ends in 0000. The platform serves one province, so
    # province-level people see everything, decided without a query (the inbox counts stay one
    # statement); only city and county people pay for their filter.
    # No region recorded at all (accounts from before data scope): not narrowed by region.
    # TODO(issue 7): once every account carries a region, make this "nothing".
    if all(code.endswith("0000") for code in roots):
        return everything
    if has_permission(user, "scope.all"):
        return everything
    regions: set[str] = set()
    whole_tree = False
    for code in roots:
        try:
            regions |= descendant_codes(session=session, code=code)
        except Exception:  # an unknown region code grants nothing
            continue
        region = session.get(Region, code)
        whole_tree = whole_tree or (region is not None and region.parent_code is None)
    return Scope(
        all=False,
        regions=frozenset(regions),
        unit_id=user.unit_id,
        username=user.username,
        whole_tree=whole_tree,
    )


# --- SQL ----------------------------------------------------------------------------------------


def project_clause(scope: Scope, project=None):
    """WHERE clause over `project` (the Project entity or an alias) for this scope."""
    from backend.projects.models import Project

    project = project if project is not None else Project
    if scope.all:
        return sa.true()
    parts = []
    if scope.regions:
        parts.append(project.region_code.in_(sorted(scope.regions)))
    if scope.unit_id is not None:
        parts.append(project.owner_unit_id == scope.unit_id)
    return sa.or_(*parts) if parts else sa.false()


def visible_project_codes(scope: Scope):
    """A subquery of the codes of the projects this scope sees."""
    from backend.projects.models import Project

    return sa.select(Project.code).where(project_clause(scope))


def business_key_clause(scope: Scope, column):
    """WHERE clause over a business-key column (instances, tasks, events)."""
    if scope.all:
        return sa.true()
    from backend.projects.models import Project

    in_scope = column.in_(visible_project_codes(scope))
    if scope.whole_tree:
        # Not about a project (no key, or a key that names no project): the top level sees it.
        no_project = sa.or_(column.is_(None), ~column.in_(sa.select(Project.code)))
        return sa.or_(in_scope, no_project)
    return in_scope


def task_clause(scope: Scope, task=None):
    """WHERE clause over `human_task`: in scope, or on the person's own desk."""
    from backend.workflow.models import HumanTask

    task = task if task is not None else HumanTask
    if scope.all:
        return sa.true()
    clause = business_key_clause(scope, task.business_key)
    if scope.username:
        clause = sa.or_(task.assignee == scope.username, clause)
    return clause


def instance_clause(scope: Scope, instance=None):
    from backend.workflow.models import ProcessInstance

    instance = instance if instance is not None else ProcessInstance
    return business_key_clause(scope, instance.business_key)


# --- objects ------------------------------------------------------------------------------------


def sees_project(user, project, *, session=None) -> bool:
    scope = scope_of(user, session=session)
    if project is None:
        return False
    if scope.all:
        return True
    return project.region_code in scope.regions or (
        scope.unit_id is not None and project.owner_unit_id == scope.unit_id
    )


def sees_business_key(user, business_key: str | None, *, session=None) -> bool:
    from backend.extensions import db
    from backend.projects.models import Project

    scope = scope_of(user, session=session)
    if scope.all:
        return True
    session = session or db.session
    project = session.scalar(sa.select(Project).where(Project.code == business_key)) if business_key else None
    if project is None:
        return scope.whole_tree
    return sees_project(user, project, session=session)


def sees_instance(user, instance, *, session=None) -> bool:
    return instance is not None and sees_business_key(user, instance.business_key, session=session)


def sees_task(user, task, *, session=None) -> bool:
    if task is None:
        return False
    if task.assignee and task.assignee == getattr(user, "username", None):
        return True
    return sees_business_key(user, task.business_key, session=session)
