"""Deploy process definitions: parse with XSD validation, lint, store new versions once.

A bad file is refused whole with file, element id, line and a plain message; nothing is
half-deployed because the caller commits only when every file passed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from lxml import etree

from backend.engine import SERIALIZER_VERSION, DefinitionError, Problem, ProcessModel, parse_files
from backend.engine.definitions import SAFE_XML_PARSER, element_line
from backend.engine.sandbox import SandboxCompileError, SandboxEnvironment
from backend.forms import store
from backend.forms.errors import FormError
from backend.forms.models import FormVersion
from backend.workflow import registry
from backend.workflow.models import ProcessDefinition

FORM_PROPERTY = "formJsonSchemaFilename"
# Who may do a user task: a lane (department/role), or an explicit group, or an assignee expression.
ASSIGNMENT_PROPERTIES = ("candidateGroups", "candidateGroupExpression", "assignee")
EXPRESSION_PROPERTIES = ("assignee", "candidateGroupExpression", "timeLimitWorkingDaysExpression")


@dataclass
class DeployResult:
    created: list[ProcessDefinition] = field(default_factory=list)
    unchanged: list[ProcessDefinition] = field(default_factory=list)


def read_directory(directory: str | Path) -> dict[str, str]:
    folder = Path(directory)
    files = sorted([*folder.glob("*.bpmn"), *folder.glob("*.dmn")])
    return {f.name: f.read_text(encoding="utf-8") for f in files}


def deploy_files(
    *,
    session,
    files: dict[str, str],
    forms_dir: str | Path,
    deployed_by: str | None,
    forms: dict[str, int] | None = None,
) -> DeployResult:
    """Parse, lint and store; raises DefinitionError listing every problem.

    Each version snapshots the forms its user tasks show (the newest versions, or those
    `forms` pins by id, as a rollback does), and its content hash covers them: the same
    diagram with a changed form is a new version."""
    models = parse_files(files)
    problems = lint(models, forms_dir=Path(forms_dir), session=session, pinned=forms)
    if problems:
        raise DefinitionError(problems)

    result = DeployResult()
    for model in models:
        snapshot = _snapshot(session, model, models, forms_dir=forms_dir, pinned=forms or {})
        content_hash = _content_hash(session, model, snapshot)
        existing = session.scalar(
            sa.select(ProcessDefinition).filter_by(key=model.key, content_hash=content_hash)
        )
        if existing is not None:
            result.unchanged.append(existing)
            continue
        latest = (
            session.scalar(sa.select(sa.func.max(ProcessDefinition.version)).filter_by(key=model.key)) or 0
        )
        definition = ProcessDefinition(
            key=model.key,
            version=latest + 1,
            name=model.name,
            content_hash=content_hash,
            file_name=model.file_name,
            source_xml=model.source,
            spec_json=model.spec_json,
            serializer_version=SERIALIZER_VERSION,
            elements=[_element_dict(e) for e in model.elements],
            message_names=model.message_names,
            message_starts=model.message_starts,
            forms=snapshot,
            deployed_by=deployed_by,
        )
        session.add(definition)
        result.created.append(definition)
    session.flush()
    return result


def _form_names(model: ProcessModel, models: list[ProcessModel]) -> set[str]:
    """The forms of the model's user tasks and of the processes it calls (parsed together)."""
    called = set(json.loads(model.spec_json).get("subprocess_specs") or {})
    return {
        e.properties[FORM_PROPERTY]
        for m in models
        if m is model or m.key in called
        for e in m.elements
        if e.type == "userTask" and e.properties.get(FORM_PROPERTY)
    }


def _snapshot(session, model, models, *, forms_dir, pinned: dict[str, int]) -> dict[str, int]:
    snapshot = {}
    for name in sorted(_form_names(model, models)):
        if name in pinned:
            snapshot[name] = pinned[name]
        else:
            snapshot[name] = store.current(session=session, name=name, forms_dir=forms_dir).id
    session.flush()
    return snapshot


def _content_hash(session, model: ProcessModel, snapshot: dict[str, int]) -> str:
    """The diagram's hash, and with forms the hash of it and each form's content."""
    if not snapshot:
        return model.content_hash
    hashes = dict(
        session.execute(
            sa.select(FormVersion.id, FormVersion.content_hash).where(FormVersion.id.in_(snapshot.values()))
        ).all()
    )
    lines = [model.content_hash, *(f"{name}\t{hashes[snapshot[name]]}" for name in sorted(snapshot))]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def lint(
    models: list[ProcessModel],
    *,
    forms_dir: Path,
    session=None,
    pinned: dict[str, int] | None = None,
) -> list[Problem]:
    """The platform's rules on top of the engine's: forms, assignment, operations, expressions.
    A form may be stored (form editor) or a file in forms_dir; `pinned` forms are stored ids."""
    if session is None:
        from backend.extensions import db

        session = db.session
    sandbox = SandboxEnvironment(helpers=_lint_helper_names())
    problems: list[Problem] = []
    checked: dict[str, list[str]] = {}

    def form_problems(name: str) -> list[str]:
        if name not in checked:
            checked[name] = _form_problems(session, name, forms_dir=forms_dir, pinned=pinned or {})
        return checked[name]

    for model in models:
        problems.extend(_lint_model(model, form_problems=form_problems, sandbox=sandbox))
    return problems


def _lint_model(model: ProcessModel, *, form_problems, sandbox: SandboxEnvironment) -> list[Problem]:
    problems: list[Problem] = []
    tree = etree.ElementTree(etree.fromstring(model.source.encode("utf-8"), SAFE_XML_PARSER))

    def pinned(element_id: str, message: str) -> Problem:
        return Problem(model.file_name, message, element_id, element_line(tree, element_id))

    def compiles(element_id: str, source: str, mode: str, label: str = "") -> None:
        try:
            sandbox.check(source, mode)
        except SandboxCompileError as exc:
            where = f" (第 {exc.line} 行)" if getattr(exc, "line", None) else ""
            problems.append(pinned(element_id, f"{label}{exc.message}{where}"))

    for element in model.elements:
        if element.type == "userTask":
            form = element.properties.get(FORM_PROPERTY)
            if not form:
                problems.append(
                    pinned(element.id, f"用户任务 '{element.name}' 没有指定表单 ({FORM_PROPERTY})")
                )
            else:
                problems.extend(pinned(element.id, m) for m in form_problems(form))
            if not element.lane and not any(element.properties.get(p) for p in ASSIGNMENT_PROPERTIES):
                problems.append(
                    pinned(
                        element.id,
                        f"用户任务 '{element.name}' 没有指定办理人: 放入泳道或设置 candidateGroups/assignee",
                    )
                )
            for prop in EXPRESSION_PROPERTIES:
                if element.properties.get(prop):
                    compiles(element.id, element.properties[prop], "eval", f"{prop}: ")
        if element.properties.get("correlation"):
            compiles(element.id, element.properties["correlation"], "eval", "correlation: ")
        if element.type == "serviceTask" and element.operation not in registry.names():
            problems.append(pinned(element.id, f"服务任务调用了未注册的操作: {element.operation}"))
    for expression in model.expressions:
        label = f"{_KIND_LABEL.get(expression.kind, expression.kind)}: "
        compiles(expression.element_id, expression.source, expression.mode, label)
    return problems


_KIND_LABEL = {
    "condition": "条件表达式",
    "timer": "定时器表达式",
    "script": "脚本",
    "cardinality": "多实例数量表达式",
    "completion": "多实例完成条件",
    "parameter": "服务参数表达式",
    "message": "消息载荷表达式",
}


def _form_problems(session, name: str, *, forms_dir: Path, pinned: dict[str, int]) -> list[str]:
    if name in pinned:
        found = session.get(FormVersion, pinned[name])
        return [] if found is not None and found.name == name else [f"表单版本不存在: {name}#{pinned[name]}"]
    try:
        schema = store.peek(session=session, name=name, forms_dir=forms_dir)
    except FormError as exc:
        return [str(exc)]
    if schema is None:
        return [f"表单文件不存在: forms/{name}"]
    return [f"表单 {name} {p}" for p in store.schema_problems(schema)]


def _lint_helper_names() -> dict:
    # Only the names matter at compile time; the real helpers are bound per run.
    from backend.workflow.host import HELPER_NAMES

    return {name: None for name in HELPER_NAMES}


def _element_dict(element) -> dict:
    return {
        "id": element.id,
        "type": element.type,
        "name": element.name,
        "lane": element.lane,
        "properties": element.properties,
        "operation": element.operation,
        "multi_instance": element.multi_instance,
    }
