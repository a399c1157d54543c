"""The audit page speaks Chinese: every action code recorded anywhere in the code base has a label
and a category (backend/audit/actions.py); the page, its filter and the exports show them.

The walk reads the source (ast): calls of `backend.audit.record` (under any alias),
`service.record`/`service.make_entry` and local helpers that pass an `action` parameter on, the
host-event and domain-event tables of the hooks, and the `task.<action>` codes of task actions.
A call whose action it cannot work out fails the walk: a new way of recording must be taught here.
"""

import ast
import csv
import io
import zipfile
from pathlib import Path

import pytest

from backend.audit import actions, hooks, record
from backend.tasks.models import ACTIONS as TASK_ACTIONS
from tests.audit.conftest import signed_in

BACKEND = Path(__file__).resolve().parents[2] / "backend"
AUDIT_MODULES = {"backend.audit", "backend.audit.service"}
ENTRY_POINTS = {"record", "make_entry"}
# f-strings that build codes: their source text → the codes they make.
F_STRINGS = {"f'task.{obj.action}'": {f"task.{a}" for a in TASK_ACTIONS}}


class Walk:
    """The action codes one module records, and the calls whose action it cannot resolve."""

    def __init__(self, source: str, name: str, *, inside_audit: bool = False):
        self.name = name
        self.tree = ast.parse(source)
        self.codes: set[str] = set()
        self.unresolved: list[str] = []
        self.callables = self._audit_names(inside_audit)
        self.tables = self._module_tables()
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}

    def _audit_names(self, inside_audit: bool) -> dict[str, tuple[int | None, str]]:
        """{callable name: (position, name) of its action argument}: `record` under its aliases,
        `service.record`/`service.make_entry` (as "service.record"); local helpers are added
        as the walk finds them."""
        names: dict[str, tuple[int | None, str]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module in AUDIT_MODULES:
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if alias.name in ENTRY_POINTS:
                        names[bound] = (0, "action")
                    elif alias.name == "service":
                        names.update({f"{bound}.{e}": (0, "action") for e in ENTRY_POINTS})
        if inside_audit:
            names.update({e: (0, "action") for e in ENTRY_POINTS})
        return names

    def _module_tables(self) -> dict[str, list[ast.expr]]:
        """Module-level dicts (literal, plus `NAME[key] = value` lines): their values."""
        tables: dict[str, list[ast.expr]] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                    tables[target.id] = list(node.value.values)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    tables.setdefault(target.value.id, []).append(node.value)
        return tables

    def _callee(self, call: ast.Call) -> str | None:
        f = call.func
        if isinstance(f, ast.Name):
            return f.id
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            return f"{f.value.id}.{f.attr}"
        return None

    def _function_of(self, node) -> ast.FunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    def _argument(self, call: ast.Call, index: int | None, param: str):
        if index is not None and len(call.args) > index:
            return call.args[index]
        for kw in call.keywords:
            if kw.arg == param:
                return kw.value
        return None

    def _table_values(self, expr: ast.expr, position: int | None) -> set[str] | None:
        """`TABLE[key]` (or element `position` of its tuple values) as constant codes."""
        if not (isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name)):
            return None
        values = self.tables.get(expr.value.id)
        if not values:
            return None
        found = set()
        for value in values:
            if position is not None and isinstance(value, ast.Tuple):
                value = value.elts[position]
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                return None
            found.add(value.value)
        return found

    def _resolve(self, expr, call: ast.Call) -> set[str] | str:
        """The codes an action expression can be, or the name of a parameter it passes on."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.JoinedStr):
            return F_STRINGS.get(ast.unparse(expr), set()) or f"?{ast.unparse(expr)}"
        table = self._table_values(expr, None)
        if table is not None:
            return table
        if isinstance(expr, ast.Name):
            function = self._function_of(call)
            if function is not None:
                if expr.id in _parameters(function):
                    return expr.id
                # `action, object_type, key = TABLE[kind]` in the same function.
                for node in ast.walk(function):
                    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
                        names = [getattr(e, "id", None) for e in node.targets[0].elts]
                        if expr.id in names:
                            found = self._table_values(node.value, names.index(expr.id))
                            if found is not None:
                                return found
        return f"?{ast.unparse(expr)}"

    def run(self) -> "Walk":
        pending = dict(self.callables)
        done: set[str] = set()
        while pending:
            name, (index, param) = pending.popitem()
            done.add(name)
            for call in ast.walk(self.tree):
                if not isinstance(call, ast.Call) or self._callee(call) != name:
                    continue
                expr = self._argument(call, index, param)
                if expr is None:
                    continue
                got = self._resolve(expr, call)
                if isinstance(got, set):
                    self.codes |= got
                elif got.startswith("?"):
                    self.unresolved.append(f"{self.name}:{call.lineno} {got[1:]}")
                else:
                    # A helper's parameter: its callers in this module name the code.
                    function = self._function_of(call)
                    if function.name not in done:
                        pending[function.name] = (_parameters(function).get(got), got)
        return self


def _parameters(function) -> dict[str, int | None]:
    """{parameter: its position, or None when keyword-only}."""
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    found: dict[str, int | None] = {name: i for i, name in enumerate(positional)}
    found.update({a.arg: None for a in function.args.kwonlyargs})
    return found


def recorded_codes() -> tuple[set[str], list[str]]:
    codes: set[str] = set()
    unresolved: list[str] = []
    for path in sorted(BACKEND.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "backend.audit" not in source and "backend/audit" not in str(path):
            continue
        relative = path.relative_to(BACKEND.parent)
        inside = relative.parts[:2] == ("backend", "audit")
        walk = Walk(source, str(relative), inside_audit=inside).run()
        codes |= walk.codes
        unresolved += walk.unresolved
    return codes, unresolved


# --- the catalogue covers the code base -----------------------------------------------------


def test_every_recorded_action_has_a_label_and_a_category():
    codes, unresolved = recorded_codes()
    assert not unresolved, "audit actions the walk cannot resolve (teach it):\n" + "\n".join(unresolved)
    # The walk itself still sees each way of recording.
    assert {
        "auth.login",  # record("…") in a view
        "user.disable",  # a view helper's `action` parameter
        "evidence.deposit",  # `record as audit`
        "audit.purge",  # make_entry inside the audit service
        "task.complete",  # the hooks' host-event table
        "payment.release",  # the hooks' domain-event table, added by subscript
        "task.delegate_return",  # f"task.{obj.action}"
        "config.change",
        "export",
    } <= codes
    assert len(codes) >= 55
    missing = sorted(codes - actions.ACTIONS.keys())
    assert not missing, "audit actions without a label in backend/audit/actions.py: " + ", ".join(missing)
    assert set(hooks.HOST_EVENTS.values()) <= actions.ACTIONS.keys()


def test_the_walk_catches_a_new_unlabelled_action():
    source = (
        "from backend.audit import record as audit\n"
        "def deposit():\n"
        "    audit('made.up', object_type='x')\n"
        "def _done(user, action, message):\n"
        "    audit(action, object_type='user')\n"
        "def disable():\n"
        "    _done(1, 'user.vanish', 'm')\n"
        "def dynamic(kind):\n"
        "    audit(kind.upper())\n"
    )
    walk = Walk(source, "example.py").run()
    assert walk.codes == {"made.up", "user.vanish"}
    assert walk.unresolved == ["example.py:9 kind.upper()"]
    assert not ({"made.up", "user.vanish"} & actions.ACTIONS.keys())


def test_categories_and_fallbacks():
    assert set(actions.CATEGORIES) >= {"session", "account", "config", "deploy", "approval", "funds"}
    assert {a.category for a in actions.ACTIONS.values()} <= set(actions.CATEGORIES)
    assert actions.label("auth.login") == "登录" and actions.category_of("auth.login") == "session"
    assert actions.label("payment.release") == "拨付资金"
    assert actions.label("no.such") == "no.such" and actions.category_of("no.such") == actions.OTHER
    assert actions.object_label("process_instance") == "流程实例"
    assert actions.object_label("strange_thing") == "strange_thing"
    assert [actions.result_label(r) for r in ("success", "failure", "denied")] == ["成功", "失败", "拒绝"]
    assert "task.complete" in actions.codes_in("approval") and "auth.login" not in actions.codes_in(
        "approval"
    )
    groups = actions.grouped(["auth.login", "zz.unknown"])
    assert groups[-1][0] == actions.OTHER and groups[-1][2] == [("zz.unknown", "zz.unknown")]


# --- the page, its filter, the exports --------------------------------------------------------


@pytest.fixture()
def seeded(session):
    record("auth.login", result="failure", username="mallory", detail={"reason": "password"})
    record("access.denied", result="denied", username="bob", object_type="route", object_id="/x")
    record("task.delegate", username="alice", object_type="task", object_id="t1")
    record("task.delegate_return", username="alice", object_type="task", object_id="t2")
    record("payment.release", username="finance1", object_type="payment", object_id="P-1")
    record(
        "zz.unknown", username="carol", object_type="odd_thing", object_id="9", detail={"标题": "<b>复核</b>"}
    )
    session.commit()


def _page(client, query: str = "") -> str:
    response = client.get(f"/admin/audit{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_shows_labels_codes_and_result_badges(app, session, people, seeded):
    page = _page(signed_in(app, people["auditor"]))
    assert '<td class="audit-action" data-action-label>拨付资金<br><small class="text-secondary' in page
    assert "data-action-code>payment.release</small>" in page
    # An uncatalogued code is shown as itself.
    assert "data-action-label>zz.unknown<br>" in page
    assert "资金拨付 <span" in page and ">odd_thing <span" in page
    # The detail shows Chinese as itself (not \\u escapes), HTML escaped.
    assert "{&#34;标题&#34;: &#34;&lt;b&gt;复核&lt;/b&gt;&#34;}" in page and "<b>复核" not in page
    assert '<span class="badge text-bg-danger" data-result="failure">失败</span>' in page
    assert '<span class="badge text-bg-warning" data-result="denied">拒绝</span>' in page
    assert '<span class="badge text-bg-success" data-result="success">成功</span>' in page
    # The filter: categories, and actions grouped under them by label.
    assert '<option value="funds">资金</option>' in page
    assert '<optgroup label="登录与会话" data-category="session">' in page
    assert '<option value="task.delegate">委托任务 (task.delegate)</option>' in page
    assert '<optgroup label="其他" data-category="other">' in page
    assert '<option value="process_instance">流程实例 (process_instance)</option>' in page
    # No inline script or style (CSP): the narrowing is a static file.
    assert "<script>" not in page and " style=" not in page and "/static/audit.js" in page


def test_the_filter_by_category_and_by_exact_action(app, session, people, seeded):
    client = signed_in(app, people["auditor"])
    page = _page(client, "?category=approval")
    assert page.count("data-audit-id=") == 2 and 'data-action="task.delegate"' in page
    page = _page(client, "?category=funds")
    assert page.count("data-audit-id=") == 1 and 'data-action="payment.release"' in page
    assert '<option value="funds" selected>' in page
    # A chosen action matches exactly, not as a prefix of task.delegate_return.
    page = _page(client, "?action=task.delegate")
    assert page.count("data-audit-id=") == 1 and 'data-action="task.delegate"' in page
    assert '<option value="task.delegate" selected>' in page
    # Free text is still a prefix.
    page = _page(client, "?action=task.")
    assert page.count("data-audit-id=") == 2 and "以 task. 开头" in page
    # Category and action together: an action outside the category finds nothing.
    assert _page(client, "?category=session&action=task.delegate").count("data-audit-id=") == 0
    page = _page(client, "?category=other")
    assert page.count("data-audit-id=") == 1 and 'data-action="zz.unknown"' in page
    assert _page(client, "?category=nonsense").count("data-audit-id=") == 6


def test_exports_carry_the_code_and_the_label(app, session, people, seeded):
    client = signed_in(app, people["auditor"])
    text = client.get("/admin/audit/export.csv?category=funds").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:4] == ["序号", "时间", "用户名", "用户 ID"]
    row = dict(zip(header, rows[1], strict=True))
    assert len(rows) == 2
    assert (row["操作代码"], row["操作"], row["操作类别"]) == ("payment.release", "拨付资金", "资金")
    assert (row["对象类型代码"], row["对象类型"], row["对象 ID"]) == ("payment", "资金拨付", "P-1")
    assert (row["结果代码"], row["结果"]) == ("success", "成功")
    response = client.get("/admin/audit/export.xlsx?action=access.denied")
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    for text in ("操作代码", "access.denied", "越权访问被拒绝", "访问控制", "页面或接口", "denied", "拒绝"):
        assert f">{text}</t>" in sheet, text
    assert "mallory" not in sheet


def test_labels_follow_the_language(app, session, people, seeded):
    client = signed_in(app, people["auditor"])
    page = client.get("/admin/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "data-action-label>Payment released<br>" in page
    assert '<optgroup label="Sign-in and sessions" data-category="session">' in page
    text = (
        client.get("/admin/audit/export.csv?category=funds", headers={"Accept-Language": "en"})
        .get_data()
        .decode("utf-8-sig")
    )
    assert "payment.release,Payment released,Funds" in text
