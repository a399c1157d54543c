"""Rules of the designer: the unit of design is a BPMN file named by its main process key
(the first executable process; project_approval.bpmn holds two processes and is one unit).

Validation and deploy reuse the engine's parse and the host's lint (workflow/deploy.py);
this module only pins their problems to elements and keeps drafts and versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from lxml import etree

from backend.db import utcnow
from backend.designer.messages import Message
from backend.designer.models import ProcessDraft
from backend.engine import DefinitionError, Problem, parse_files
from backend.engine.definitions import BPMN_NS, SAFE_XML_PARSER
from backend.forms import store as form_store
from backend.forms.errors import FormError
from backend.org.service import DEPARTMENTS
from backend.security.xml import UnsafeXML, parse_untrusted
from backend.workflow import registry
from backend.workflow.deploy import FORM_PROPERTY, deploy_files, lint
from backend.workflow.models import ProcessDefinition, ProcessInstance

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
# Namespaces that belong to BPMN itself or to diagram interchange, never "foreign".
_OWN_NAMESPACES = {
    BPMN_NS,
    SPIFF_NS,
    BPMNDI_NS,
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/XML/1998/namespace",
}
# An XML NCName, as the process id is; also the key's column length.
_KEY = re.compile(r"[A-Za-z_][\w.-]{0,119}")
_ROLLBACK_MARK = re.compile(r"\s*<!-- keyproject-rollback: [^\n]*? -->\s*$")


class DesignerError(Exception):
    """A request the designer refuses; `message` is for the user: a text, or a Message
    (stable `code`, shown in the request's language when the view calls str())."""

    def __init__(self, message: str | Message, status: int = 400):
        self.message = message
        self.code = getattr(message, "code", None)
        self.status = status
        super().__init__(message)


class NotFound(DesignerError):
    def __init__(self, message: str):
        super().__init__(message, 404)


class Invalid(DesignerError):
    """The diagram has problems; nothing was stored."""

    def __init__(self, problems: list[dict]):
        self.problems = problems
        super().__init__(Message("invalid"), 422)


# --- reading ------------------------------------------------------------------------------


def main_key(xml: str) -> str | None:
    """Id of the file's first executable process (or first process); None if unreadable."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), SAFE_XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    processes = list(root.iter(f"{{{BPMN_NS}}}process"))
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    chosen = (executable or processes or [None])[0]
    return chosen.get("id") if chosen is not None else None


def _latest_by_key(session) -> dict[str, ProcessDefinition]:
    newest = (
        sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    rows = session.scalars(
        sa.select(ProcessDefinition).join(
            newest,
            sa.and_(ProcessDefinition.key == newest.c.key, ProcessDefinition.version == newest.c.version),
        )
    )
    return {d.key: d for d in rows}


def list_processes(*, session) -> list[dict]:
    """One row per designed file: its main process's latest version, and whether a draft waits."""
    drafts = {d.key: d for d in session.scalars(sa.select(ProcessDraft))}
    rows = []
    for key, definition in sorted(_latest_by_key(session).items()):
        if main_key(definition.source_xml) not in (key, None):
            continue  # a secondary process of another file (e.g. the expert review of project_approval)
        rows.append(
            {
                "key": key,
                "name": definition.name,
                "file_name": definition.file_name,
                "latest_version": definition.version,
                "deployed_at": definition.deployed_at.isoformat() if definition.deployed_at else None,
                "deployed_by": definition.deployed_by,
                "has_draft": key in drafts,
            }
        )
    known = {r["key"] for r in rows}
    for key, draft in sorted(drafts.items()):
        if key not in known:
            rows.append(
                {
                    "key": key,
                    "name": _process_name(draft.xml, key),
                    "file_name": draft.file_name,
                    "latest_version": None,
                    "deployed_at": None,
                    "deployed_by": None,
                    "has_draft": True,
                }
            )
    return rows


def _process_name(xml: str, key: str) -> str:
    try:
        root = etree.fromstring(xml.encode("utf-8"), SAFE_XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return key
    found = root.xpath("//bpmn:process[@id=$id]", namespaces={"bpmn": BPMN_NS}, id=key)
    return (found[0].get("name") if found else None) or key


def definition(*, session, key: str, version: int | None = None) -> ProcessDefinition:
    query = sa.select(ProcessDefinition).filter_by(key=key)
    if version is None:
        query = query.order_by(ProcessDefinition.version.desc()).limit(1)
    else:
        query = query.filter_by(version=version)
    found = session.scalar(query)
    if found is None:
        raise NotFound(
            Message("no_such_version", key=key, version=version)
            if version
            else Message("not_deployed", key=key)
        )
    return found


def get_xml(*, session, key: str, source: str = "latest") -> dict:
    """source: 'draft', 'latest' or a version number."""
    if source == "draft":
        draft = session.scalar(sa.select(ProcessDraft).filter_by(key=key))
        if draft is None:
            raise NotFound(Message("no_draft", key=key))
        return {"key": key, "xml": draft.xml, "source": "draft", "version": None}
    if source == "latest":
        found = definition(session=session, key=key)
    elif source.isdigit():
        found = definition(session=session, key=key, version=int(source))
    else:
        raise DesignerError(Message("bad_source"))
    return {"key": key, "xml": found.source_xml, "source": source, "version": found.version}


# --- validation ---------------------------------------------------------------------------


def validate(
    *, xml: str, forms_dir: str | Path, key: str | None = None, file_name: str | None = None
) -> list[dict]:
    """Every problem of XSD, engine parse and the platform's lint, pinned to its element."""
    file_name = file_name or f"{key or main_key(xml) or 'process'}.bpmn"
    problems: list[dict] = []
    if key is not None:
        found = main_key(xml)
        if found is not None and found != key:
            problems.append(
                _problem(Problem(file_name, str(Message("key_mismatch", found=found, key=key))), "error")
            )
    try:
        models = parse_files({file_name: xml})
    except DefinitionError as exc:
        return problems + _pinned(xml, [_problem(p) for p in exc.problems])
    problems.extend(_problem(p) for p in lint(models, forms_dir=Path(forms_dir)))
    return problems


def _pinned(xml: str, problems: list[dict]) -> list[dict]:
    """XSD errors carry only a line: pin each to the element with an id that encloses it,
    so the modeler can mark the shape. The engine's English words for elements it cannot
    run are said in Chinese."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), SAFE_XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return problems
    for problem in problems:
        if problem["message"].startswith("There is no support implemented") and problem["element_id"]:
            found = root.xpath("//*[@id=$id]", id=problem["element_id"])
            kind = etree.QName(found[0]).localname if found else ""
            problem["message"] = str(
                Message("unsupported_element", kind=kind) if kind else Message("unsupported")
            )
    by_line: dict[int, etree._Element] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.sourceline not in by_line:
            by_line[element.sourceline] = element
    for problem in problems:
        if problem["element_id"] or not problem["line"]:
            continue
        element = by_line.get(problem["line"])
        while element is not None and element is not root:
            if element.get("id") and etree.QName(element).namespace == BPMN_NS:
                problem["element_id"] = element.get("id")
                break
            element = element.getparent()
    return problems


def _problem(problem: Problem, severity: str = "error") -> dict:
    return {
        "element_id": problem.element_id,
        "line": problem.line,
        "message": problem.message,
        "severity": severity,
    }


# --- drafts and deploy --------------------------------------------------------------------


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise DesignerError(Message("bad_key", key=key[:130]))


def _file_name(session, key: str) -> str:
    draft = session.scalar(sa.select(ProcessDraft).filter_by(key=key))
    if draft is not None:
        return draft.file_name
    latest = session.scalar(
        sa.select(ProcessDefinition.file_name)
        .filter_by(key=key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    return latest or f"{key}.bpmn"


def save_draft(
    *, session, key: str, xml: str, saved_by: str | None, forms_dir: str | Path
) -> tuple[ProcessDraft, list[dict]]:
    """Saved even with problems: a draft is work in progress."""
    _check_key(key)
    if not isinstance(xml, str) or not xml.strip():
        raise DesignerError(Message("empty_draft"))
    file_name = _file_name(session, key)
    problems = validate(xml=xml, forms_dir=forms_dir, key=key, file_name=file_name)
    draft = session.scalar(sa.select(ProcessDraft).filter_by(key=key))
    if draft is None:
        draft = ProcessDraft(key=key, file_name=file_name)
        session.add(draft)
    draft.xml = xml
    draft.saved_by = saved_by
    draft.saved_at = utcnow()
    session.flush()
    return draft, problems


def deploy(
    *,
    session,
    key: str,
    xml: str,
    deployed_by: str | None,
    forms_dir: str | Path,
    forms: dict[str, int] | None = None,
) -> tuple[ProcessDefinition, bool]:
    """Store the file as a new version of its processes (once per content); drops the draft.
    Running instances keep their version: only new starts take this one."""
    _check_key(key)
    if not isinstance(xml, str) or not xml.strip():
        raise DesignerError(Message("empty_diagram"))
    file_name = _file_name(session, key)
    found = main_key(xml)
    if found is not None and found != key:
        raise Invalid([_problem(Problem(file_name, str(Message("key_mismatch", found=found, key=key))))])
    try:
        result = deploy_files(
            session=session, files={file_name: xml}, forms_dir=forms_dir, deployed_by=deployed_by, forms=forms
        )
    except DefinitionError as exc:
        raise Invalid([_problem(p) for p in exc.problems]) from None
    created = next((d for d in result.created if d.key == key), None)
    stored = created or next(d for d in result.unchanged if d.key == key)
    draft = session.scalar(sa.select(ProcessDraft).filter_by(key=key))
    if draft is not None:
        session.delete(draft)
    session.flush()
    return stored, created is not None


def rollback(
    *, session, key: str, version: int, deployed_by: str | None, forms_dir: str | Path
) -> ProcessDefinition:
    """Deploy an earlier version's XML, with the form versions it was deployed with, as a new
    version. A version is stored once per content, so the copy carries a comment naming the
    rollback to make it a distinct version."""
    target = definition(session=session, key=key, version=version)
    latest = definition(session=session, key=key)
    source = _ROLLBACK_MARK.sub("", target.source_xml)
    marked = f"{source.rstrip()}\n<!-- keyproject-rollback: v{version} as v{latest.version + 1} -->\n"
    stored, _created = deploy(
        session=session,
        key=key,
        xml=marked,
        deployed_by=deployed_by,
        forms_dir=forms_dir,
        forms=target.forms or None,
    )
    return stored


# --- versions and diff --------------------------------------------------------------------


def versions(*, session, key: str) -> list[dict]:
    counts = dict(
        session.execute(
            sa.select(ProcessInstance.definition_id, sa.func.count())
            .where(ProcessInstance.process_key == key)
            .group_by(ProcessInstance.definition_id)
        ).all()
    )
    rows = session.scalars(
        sa.select(ProcessDefinition).filter_by(key=key).order_by(ProcessDefinition.version.desc())
    ).all()
    if not rows:
        raise NotFound(Message("not_deployed", key=key))
    return [
        {
            "version": d.version,
            "deployed_by": d.deployed_by,
            "deployed_at": d.deployed_at.isoformat() if d.deployed_at else None,
            "content_hash": d.content_hash,
            "instances": counts.get(d.id, 0),
        }
        for d in rows
    ]


# What a designer calls each setting of an element.
_PROPERTY_LABELS = {
    "formJsonSchemaFilename": "表单",
    "candidateGroups": "办理人",
    "candidateGroupExpression": "办理人",
    "assignee": "办理人",
    "timeLimitWorkingDays": "时限",
    "reminderWorkingDays": "时限",
    "escalateTo": "时限",
    "countersign": "会签",
    "decisionField": "决定字段",
    "correlation": "消息关联",
    "approvalStage": "审批环节",
    "department": "审批部门",
}


def diff(*, session, key: str, from_version: int, to_version: int) -> dict:
    """Elements added, removed and changed between two versions, with what changed."""
    old = definition(session=session, key=key, version=from_version)
    new = definition(session=session, key=key, version=to_version)
    before = {e["id"]: e for e in old.elements or []}
    after = {e["id"]: e for e in new.elements or []}
    old_xml = _element_sources(old.source_xml)
    new_xml = _element_sources(new.source_xml)

    def brief(e: dict) -> dict:
        return {"id": e["id"], "type": e["type"], "name": e.get("name")}

    changed = []
    for element_id in sorted(before.keys() & after.keys()):
        changes = _changes(before[element_id], after[element_id])
        if not changes and old_xml.get(element_id) != new_xml.get(element_id):
            changes = ["其他设置"]  # conditions, scripts, parameters, timers ...
        if changes:
            changed.append({**brief(after[element_id]), "changes": changes})
    return {
        "added": [brief(after[i]) for i in sorted(after.keys() - before.keys())],
        "removed": [brief(before[i]) for i in sorted(before.keys() - after.keys())],
        "changed": changed,
    }


_FIELD_LABELS = (
    ("type", "类型"),
    ("name", "名称"),
    ("lane", "泳道"),
    ("operation", "服务操作"),
    ("multi_instance", "多实例"),
)


def _changes(a: dict, b: dict) -> list[str]:
    labels = [label for name, label in _FIELD_LABELS if a.get(name) != b.get(name)]
    props_a, props_b = a.get("properties") or {}, b.get("properties") or {}
    for prop in sorted(props_a.keys() | props_b.keys()):
        label = _PROPERTY_LABELS.get(prop, f"属性 {prop}")
        if props_a.get(prop) != props_b.get(prop) and label not in labels:
            labels.append(label)
    return labels


def _element_sources(xml: str) -> dict[str, str]:
    """Canonical XML of each process element, without layout, for 'something else changed'."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True, remove_comments=True
    )
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    result = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for element in process.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id:
                result[element_id] = etree.tostring(element, method="c14n")
    return result


# --- import -------------------------------------------------------------------------------

_SUPPORTED_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
}  # fmt: skip
# Process children that describe rather than run; not elements the engine must execute.
_DESCRIPTIVE_TAGS = {
    "sequenceFlow", "laneSet", "lane", "childLaneSet", "flowNodeRef", "documentation",
    "extensionElements", "textAnnotation", "association", "group", "dataObject",
    "dataObjectReference", "dataStoreReference", "ioSpecification", "dataInput", "dataOutput",
    "inputSet", "outputSet", "property", "dataInputAssociation", "dataOutputAssociation",
    "incoming", "outgoing", "conditionExpression", "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics", "loopCondition", "loopCardinality", "completionCondition",
    "timerEventDefinition", "messageEventDefinition", "errorEventDefinition", "signalEventDefinition",
    "escalationEventDefinition", "terminateEventDefinition", "conditionalEventDefinition",
    "linkEventDefinition", "compensateEventDefinition", "cancelEventDefinition", "timeDate",
    "timeDuration", "timeCycle", "condition", "script", "sourceRef", "targetRef", "text",
    "inputDataItem", "outputDataItem", "loopDataInputRef", "loopDataOutputRef", "category",
}  # fmt: skip


# Extensions of Camunda 7 and its forks, Flowable and Activiti, which name these the same way.
_CAMUNDA_LIKE = {
    "http://camunda.org/schema/1.0/bpmn",
    "http://flowable.org/bpmn",
    "http://activiti.org/bpmn",
}
# Their user-task attributes that mean what one of this platform's properties means.
_CONVERTIBLE = {"candidateGroups": "candidateGroups", "assignee": "assignee", "formKey": FORM_PROPERTY}
_EXPRESSION = re.compile(r"[$#]\{")


@dataclass
class Imported:
    key: str | None
    xml: str
    # {"element_id" (None for the file as a whole), "code" (designer/messages.py), "message"}
    warnings: list[dict] = field(default_factory=list)
    unsupported: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def warn(self, element_id: str | None, code: str, **params) -> None:
        entry = {"element_id": element_id, "code": code, "message": str(Message(code, **params))}
        if entry not in self.warnings:
            self.warnings.append(entry)


def import_file(*, data: bytes, filename: str | None, forms_dir: str | Path) -> Imported:
    """Read a .bpmn from another modeler; never raises on a foreign file. Foreign extensions
    are kept in the XML and reported by element; Camunda/Flowable/Activiti assignments and
    forms that mean the same here are converted too; elements the engine cannot run are
    reported by id."""
    name = filename or "imported.bpmn"
    try:
        root = parse_untrusted(data)
    except UnsafeXML as exc:
        raise Invalid([_problem(Problem(name, str(exc), line=exc.line or 1))]) from None
    except etree.XMLSyntaxError as exc:
        message = str(Message("xml_syntax", error=exc.msg))
        raise Invalid([_problem(Problem(name, message, line=exc.lineno))]) from None
    if not isinstance(root.tag, str) or etree.QName(root).namespace != BPMN_NS:
        raise Invalid([_problem(Problem(name, str(Message("not_bpmn")), line=1))])

    result = Imported(key=None, xml="")
    processes = list(root.iter(f"{{{BPMN_NS}}}process"))
    if not processes:
        result.warn(None, "no_process")
    elif not any(p.get("isExecutable") == "true" for p in processes):
        # Signavio and plain bpmn.io files leave this out; the platform only runs executable processes.
        processes[0].set("isExecutable", "true")
        result.warn(processes[0].get("id"), "made_executable", process=processes[0].get("id"))

    converted = _convert_camunda_like(root, result, Path(forms_dir))
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        for attr in element.attrib:
            attr_q = etree.QName(attr)
            if (element, attr) in converted:
                continue
            if attr_q.namespace and attr_q.namespace not in _OWN_NAMESPACES:
                result.warn(_owner_id(element), "ignored", name=_prefixed(element, attr_q))
        if qname.namespace not in _OWN_NAMESPACES:
            parent = element.getparent()
            if parent is not None and etree.QName(parent).localname == "extensionElements":
                result.warn(_owner_id(element), "ignored", name=_prefixed(element, qname))
            continue
        if qname.namespace == BPMN_NS and _inside_process(element):
            local = qname.localname
            if local not in _SUPPORTED_TAGS and local not in _DESCRIPTIVE_TAGS and element.get("id"):
                parent = element.getparent()
                if parent is not None and etree.QName(parent).localname in (
                    "process",
                    "subProcess",
                    "transaction",
                    "adHocSubProcess",
                ):
                    result.unsupported.append({"element_id": element.get("id"), "type": local})

    result.xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
    result.key = main_key(result.xml)
    try:
        result.problems = validate(
            xml=result.xml, forms_dir=forms_dir, file_name=f"{result.key or 'imported'}.bpmn"
        )
    except Exception as exc:  # a foreign file must never crash the import; the draft is still useful
        result.warn(None, "not_validated", error=f"{type(exc).__name__}: {exc}")
    return result


def _convert_camunda_like(root, result: Imported, forms_dir: Path) -> set[tuple]:
    """Copy a user task's literal candidateGroups / assignee / formKey (of Camunda, Flowable or
    Activiti) into this platform's properties; the foreign attribute stays for a round trip.
    Returns the (element, attribute) pairs reported here, which need no "ignored" warning."""
    reported: set[tuple] = set()
    for task in root.iter(f"{{{BPMN_NS}}}userTask"):
        task_id = task.get("id")
        for attr, value in list(task.attrib.items()):
            attr_q = etree.QName(attr)
            target = _CONVERTIBLE.get(attr_q.localname)
            if attr_q.namespace not in _CAMUNDA_LIKE or target is None:
                continue
            reported.add((task, attr))
            label = _prefixed(task, attr_q)
            value = value.strip()
            if not value:
                result.warn(task_id, "ignored", name=label)
                continue
            if _EXPRESSION.search(value):
                result.warn(task_id, "expression_kept", name=label, value=value, target=target)
                continue
            if target == "candidateGroups" and "," in value:
                result.warn(task_id, "several_groups", name=label, value=value)
                continue
            if target == FORM_PROPERTY:
                form = re.split(r"[:/]", value)[-1]
                if not (form.endswith(".json") and (forms_dir / form).is_file()):
                    result.warn(task_id, "form_not_found", name=label, value=value)
                    continue
                value = form
            elif target == "assignee":
                value = repr(value)  # the platform's assignee is an expression: quote the name
            if _spiff_property(task, target) is not None:
                result.warn(task_id, "already_set", name=label, target=target)
                continue
            _add_spiff_property(task, target, value)
            result.warn(task_id, "converted", name=label, target=target, value=value)
    return reported


def _spiff_properties(element, *, create: bool):
    ext = element.find(f"{{{BPMN_NS}}}extensionElements")
    if ext is None:
        if not create:
            return None
        ext = etree.Element(f"{{{BPMN_NS}}}extensionElements")
        # extensionElements comes right after any documentation (BPMN XSD order).
        docs = element.findall(f"{{{BPMN_NS}}}documentation")
        element.insert(element.index(docs[-1]) + 1 if docs else 0, ext)
    props = ext.find(f"{{{SPIFF_NS}}}properties")
    if props is None and create:
        props = etree.SubElement(ext, f"{{{SPIFF_NS}}}properties", nsmap={"spiffworkflow": SPIFF_NS})
    return props


def _spiff_property(element, name: str):
    props = _spiff_properties(element, create=False)
    if props is None:
        return None
    return next((p for p in props.findall(f"{{{SPIFF_NS}}}property") if p.get("name") == name), None)


def _add_spiff_property(element, name: str, value: str) -> None:
    props = _spiff_properties(element, create=True)
    etree.SubElement(props, f"{{{SPIFF_NS}}}property", name=name, value=value)


def _owner_id(element) -> str | None:
    """The id of the nearest element (itself or an ancestor) that has one: a foreign
    extension is reported on the task or event it belongs to."""
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return None


def _prefixed(element, qname: etree.QName) -> str:
    prefix = next((p for p, ns in (element.nsmap or {}).items() if ns == qname.namespace and p), None)
    return f"{prefix}:{qname.localname}" if prefix else f"{{{qname.namespace}}}{qname.localname}"


def _inside_process(element) -> bool:
    return any(
        etree.QName(a).localname == "process" and etree.QName(a).namespace == BPMN_NS
        for a in element.iterancestors()
    )


# --- pickers for the properties panel -----------------------------------------------------


def forms(*, session, forms_dir: str | Path) -> list[dict]:
    """Every form (stored or a file) with its newest version's title and number."""
    rows = []
    for name in form_store.names(session=session, forms_dir=forms_dir):
        try:
            newest = form_store.current(session=session, name=name, forms_dir=forms_dir)
        except FormError:
            newest = None  # a broken file: listed, so the designer sees it exists
        schema = newest.schema if newest is not None else {}
        title = schema.get("title") if isinstance(schema, dict) else None
        rows.append(
            {"name": name, "title": title or name.removesuffix(".json"), "version": newest and newest.version}
        )
    return rows


def operations() -> list[dict]:
    return [
        {"name": op.name, "params": list(op.params), "doc": op.description}
        for op in (registry.get(name) for name in sorted(registry.names()))
    ]


_DEPARTMENT_ROLES = {
    "window": ("受理窗口", ("fgw",)),
    "reviewer": ("审查人员", None),
    "head": ("分管领导", None),
    "finance": ("资金拨付", ("cz",)),
}


def groups() -> list[dict]:
    """Candidate groups a user task may name. Unit groups depend on the data, so they are
    offered as an expression for candidateGroupExpression."""
    rows = []
    for code, _name, short in DEPARTMENTS:
        for role, (label, only) in _DEPARTMENT_ROLES.items():
            if only is None or code in only:
                rows.append({"group": f"{code}.{role}", "label": f"{short} {label}", "expression": False})
    rows.append({"group": "expert", "label": "评审专家", "expression": False})
    rows.append({"group": "inspector", "label": "督查人员", "expression": False})
    rows.append(
        {
            "group": '"unit." + str(responsible_unit_id)',
            "label": "责任单位 (表达式, 用于 candidateGroupExpression)",
            "expression": True,
        }
    )
    return rows
