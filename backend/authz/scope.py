"""Data scope: which projects, process instances and tasks a person may see.

The rule (issue 7), the same for pages, API, exports and search:
- Projects: of the person's region and every region under it (department staff without a
  region of their own: their department's region), and of their own unit (the applicant's
  projects). A person with neither a region nor a department sees only their own unit's
  projects. "scope.all" (province-level people, operators) lifts the narrowing.
- Instances and tasks belong to their project through the business key (项目代码); an instance
  tied to no project is seen by people of a top-level region only.
- Instances the person started are seen, whatever their project (my own 我发起的).
- Tasks are also seen, whatever their project, when they are on the person's own desk
  (assignee) or offered to their own unit by name (candidate group "unit.<id>": the contractor
  or supervisor named on a contract, the unit responsible for a ticket): a person must be able
  to see and do what was given to them.
- "Of their department": a department's staff without a region of their own take the
  department's region. Tasks offered to a department's groups ("fgw.reviewer") follow the
  project's region like any other: a city member of a provincial department sees that
  department's queue for their city only (their own region is a deliberate narrowing, and the
  inbox's 待签收 tab and the task page apply it). A plain role group ("inspector") likewise.
- An API key's region narrows all of this further (`narrowed`): nothing outside it.

One builder for SQL (`project_clause`, `business_key_clause`, `task_clause`) and one object
check (`sees_project`, `sees_business_key`, `sees_task`; `*_in` take a Scope) — pages, API,
exports and search use these. Out of scope reads as "does not exist" (404): existence is not
revealed.
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
    # An API key's region (and those under it): a bound over everything else; None: no bound.
    within: frozenset[str] | None = None
    within_whole_tree: bool = True

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
    # No region at all: only the own unit's projects and the own desk (strict, below).
    if roots and all(code.endswith("0000") for code in roots):
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


def narrowed(scope: Scope, *, regions: set[str], whole_tree: bool) -> Scope:
    """`scope` bounded by an API key's region (`regions`: the key's region and those under
    it; `whole_tree`: a top-level key also sees what belongs to no project)."""
    if scope.all:
        return Scope(
            all=False, regions=frozenset(regions), unit_id=None, username=None, whole_tree=whole_tree
        )
    within = frozenset(regions) if scope.within is None else scope.within & frozenset(regions)
    return Scope(
        all=False,
        regions=scope.regions,
        unit_id=scope.unit_id,
        username=scope.username,
        whole_tree=scope.whole_tree,
        within=within,
        within_whole_tree=scope.within_whole_tree and whole_tree,
    )


def _own_groups(scope: Scope, column):
    """Tasks offered to the person's own unit by name (candidate group "unit.<id>")."""
    return [column == f"unit.{scope.unit_id}"] if scope.unit_id is not None else []


def _own_group(scope: Scope, group: str | None) -> bool:
    return scope.unit_id is not None and group == f"unit.{scope.unit_id}"


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
    clause = sa.or_(*parts) if parts else sa.false()
    if scope.within is not None:
        clause = sa.and_(clause, project.region_code.in_(sorted(scope.within)))
    return clause


def visible_project_codes(scope: Scope):
    """A subquery of the codes of the projects this scope sees."""
    from backend.projects.models import Project

    return sa.select(Project.code).where(project_clause(scope))


def business_key_clause(scope: Scope, column):
    """WHERE clause over a business-key column (instances, tasks, events)."""
    if scope.all:
        return sa.true()

    in_scope = column.in_(visible_project_codes(scope))
    if scope.whole_tree and scope.within_whole_tree:
        # Not about a project (no key, or a key that names no project): the top level sees it.
        return sa.or_(in_scope, _no_project(column))
    return in_scope


def _no_project(column):
    from backend.projects.models import Project

    return sa.or_(column.is_(None), ~column.in_(sa.select(Project.code)))


def _within_clause(scope: Scope, column):
    """The API key's bound over a business-key column (true when there is none)."""
    if scope.within is None:
        return sa.true()
    from backend.projects.models import Project

    inside = column.in_(sa.select(Project.code).where(Project.region_code.in_(sorted(scope.within))))
    return sa.or_(inside, _no_project(column)) if scope.within_whole_tree else inside


def task_clause(scope: Scope, task=None):
    """WHERE clause over `human_task`: in scope, or on the person's own desk."""
    from backend.workflow.models import HumanTask

    task = task if task is not None else HumanTask
    if scope.all:
        return sa.true()
    clause = business_key_clause(scope, task.business_key)
    mine = _own_groups(scope, task.candidate_group)
    if scope.username:
        mine.append(task.assignee == scope.username)
    if mine:
        clause = sa.or_(*mine, clause)
    if scope.within is not None:
        clause = sa.and_(clause, _within_clause(scope, task.business_key))
    return clause


def instance_clause(scope: Scope, instance=None):
    from backend.workflow.models import ProcessInstance

    instance = instance if instance is not None else ProcessInstance
    clause = business_key_clause(scope, instance.business_key)
    if scope.all or not scope.username:
        return clause
    clause = sa.or_(instance.started_by == scope.username, clause)
    if scope.within is not None:
        clause = sa.and_(clause, _within_clause(scope, instance.business_key))
    return clause


# --- objects ------------------------------------------------------------------------------------


def region_in(scope: Scope, code: str | None) -> bool:
    """Whether the scope sees every project of region `code` (a document about a whole region,
    such as a performance report, is seen only by people whose region covers it)."""
    if not code or (scope.within is not None and code not in scope.within):
        return False
    return scope.all or code in scope.regions


def project_in(scope: Scope, project) -> bool:
    if project is None:
        return False
    if scope.all:
        return True
    if scope.within is not None and project.region_code not in scope.within:
        return False
    return project.region_code in scope.regions or (
        scope.unit_id is not None and project.owner_unit_id == scope.unit_id
    )


def _project_of(session, business_key: str | None):
    from backend.extensions import db
    from backend.projects.models import Project

    if not business_key:
        return None
    session = session or db.session
    return session.scalar(sa.select(Project).where(Project.code == business_key))


def business_key_in(scope: Scope, business_key: str | None, *, session=None) -> bool:
    if scope.all:
        return True
    project = _project_of(session, business_key)
    if project is None:
        return scope.whole_tree and scope.within_whole_tree
    return project_in(scope, project)


def _within_key(scope: Scope, business_key: str | None, session) -> bool:
    if scope.within is None:
        return True
    project = _project_of(session, business_key)
    if project is None:
        return scope.within_whole_tree
    return project.region_code in scope.within


def task_in(scope: Scope, task, *, session=None) -> bool:
    if task is None:
        return False
    if scope.all:
        return True
    mine = (scope.username is not None and task.assignee == scope.username) or _own_group(
        scope, task.candidate_group
    )
    if mine:
        return _within_key(scope, task.business_key, session)
    return business_key_in(scope, task.business_key, session=session)


def sees_project(user, project, *, session=None) -> bool:
    return project_in(scope_of(user, session=session), project)


def sees_business_key(user, business_key: str | None, *, session=None) -> bool:
    return business_key_in(scope_of(user, session=session), business_key, session=session)


def instance_in(scope: Scope, instance, *, session=None) -> bool:
    if instance is None:
        return False
    if scope.all:
        return True
    if scope.username is not None and instance.started_by == scope.username:
        return _within_key(scope, instance.business_key, session)
    return business_key_in(scope, instance.business_key, session=session)


def sees_instance(user, instance, *, session=None) -> bool:
    return instance_in(scope_of(user, session=session), instance, session=session)


def sees_task(user, task, *, session=None) -> bool:
    return task_in(scope_of(user, session=session), task, session=session)
