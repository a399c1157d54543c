"""Parse and validate BPMN/DMN files into storable process specs.

Every deploy parses with SpiffBpmnParser *with* XSD validation. The result is a plain
description of each process (elements, forms, operations, expressions) for the host's
lint, plus the serialized spec that is stored once per version so that starting or
loading an instance never parses XML again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from backend.engine.serialization import SERIALIZER, dumps

# XML from designers and imports is untrusted: no entities, no DTDs, no network, no DOCTYPE.
# Never hand SpiffWorkflow a string or file (add_bpmn_str/add_bpmn_file parse with lxml's
# default parser): it only ever gets trees parsed here.
from backend.security.xml import SAFE_XML_PARSER, UnsafeXML, parse_untrusted  # noqa: F401  (re-exported)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused, pinned to the element and line when known."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"


class DefinitionError(Exception):
    """The files cannot be deployed; `problems` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Expression:
    """Python source that the sandbox will run: 'eval' for expressions, 'exec' for scripts."""

    element_id: str
    kind: str  # condition, timer, script, cardinality, completion, parameter, message
    source: str
    mode: str = "eval"


@dataclass
class Element:
    id: str
    type: str  # userTask, serviceTask, scriptTask, ...
    name: str | None
    lane: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    operation: str | None = None
    multi_instance: bool = False


@dataclass
class ProcessModel:
    """One executable process of a file, ready to be stored as a version."""

    key: str
    name: str
    file_name: str
    source: str
    content_hash: str
    spec_json: str
    elements: list[Element]
    expressions: list[Expression]
    message_names: list[str]
    message_starts: list[str]  # messages that start a new instance of this process

    def element(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.id == element_id), None)


def parse_files(files: dict[str, str]) -> list[ProcessModel]:
    """Parse every file together (call activities may cross files); refuse all on any problem."""
    problems: list[Problem] = []
    trees: dict[str, etree._ElementTree] = {}
    for name, text in files.items():
        try:
            trees[name] = etree.ElementTree(parse_untrusted(text.encode("utf-8")))
        except UnsafeXML as exc:
            problems.append(Problem(name, str(exc), line=exc.line))
        except etree.XMLSyntaxError as exc:
            problems.append(Problem(name, f"XML 格式错误: {exc.msg}", line=exc.lineno))
    if problems:
        raise DefinitionError(problems)

    for name, tree in trees.items():
        problems.extend(_structural_problems(name, tree))
    if problems:
        raise DefinitionError(problems)

    parser = SpiffBpmnParser(validator=VALIDATOR)
    owners: dict[str, str] = {}
    for name, tree in trees.items():
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree.getroot(), filename=name)
            else:
                before = set(parser.process_parsers)
                parser.add_bpmn_xml(tree.getroot(), filename=name)
                owners.update({pid: name for pid in set(parser.process_parsers) - before})
        except ValidationException as exc:
            problems.append(_problem_from_validation(exc, name, trees))
        except Exception as exc:  # the library raises raw KeyErrors etc. on foreign files
            problems.append(Problem(name, f"无法解析: {type(exc).__name__}: {exc}"))
    if problems:
        raise DefinitionError(problems)

    models: list[ProcessModel] = []
    for name, tree in trees.items():
        if name.endswith(".dmn"):
            continue
        for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable") != "true":
                continue
            key = process.get("id")
            try:
                spec = parser.get_spec(key)
                subprocess_specs = parser.get_subprocess_specs(key)
            except ValidationException as exc:
                problems.append(_problem_from_validation(exc, owners.get(key, name), trees))
                continue
            except Exception as exc:
                problems.append(Problem(name, f"无法解析流程 {key}: {type(exc).__name__}: {exc}", key))
                continue
            models.append(
                _describe(key, process.get("name") or key, name, files[name], spec, subprocess_specs)
            )
    if problems:
        raise DefinitionError(problems)
    return models


def element_line(tree: etree._ElementTree, element_id: str | None) -> int | None:
    if not element_id:
        return None
    found = tree.getroot().xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def _problem_from_validation(exc: ValidationException, default_file: str, trees) -> Problem:
    file_name = exc.file_name or default_file
    element_id = getattr(exc, "id", None) or None
    line = exc.line_number or None
    if not line and element_id and file_name in trees:
        # Spiff reads node.line_number, which lxml doesn't have: look the element up.
        line = element_line(trees[file_name], element_id)
    message = str(exc.args[0]) if exc.args else str(exc)
    return Problem(file_name, message, element_id, line)


def _structural_problems(name: str, tree: etree._ElementTree) -> list[Problem]:
    """What Spiff accepts silently but runs wrongly (see ENGINE_NOTES)."""
    root = tree.getroot()
    if name.endswith(".dmn"):
        return []
    problems = []
    if etree.QName(root).namespace != BPMN_NS:
        return [Problem(name, "不是 BPMN 2.0 文件 (根元素命名空间错误)", line=root.sourceline)]
    processes = list(root.iter(f"{{{BPMN_NS}}}process"))
    if not processes:
        problems.append(
            Problem(name, "文件中没有 bpmn:process (协作图或会话图无法执行)", line=root.sourceline)
        )
    elif not any(p.get("isExecutable") == "true" for p in processes):
        problems.append(
            Problem(
                name,
                '没有可执行的流程: 请设置 isExecutable="true"',
                processes[0].get("id"),
                processes[0].sourceline,
            )
        )
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        if not flow.get("id"):
            problems.append(Problem(name, "顺序流缺少 id, 引擎会静默丢弃它", line=flow.sourceline))
    return problems


def _describe(key, title, file_name, source, spec, subprocess_specs) -> ProcessModel:
    elements: list[Element] = []
    expressions: list[Expression] = []
    messages: set[str] = set()
    message_starts: set[str] = set()
    all_specs = [spec, *subprocess_specs.values()]
    for process_spec in all_specs:
        for ts in process_spec.task_specs.values():
            element_id = getattr(ts, "bpmn_id", None)
            if element_id is None:
                continue  # engine-internal specs (Start, End, joins of boundary events)
            extensions = getattr(ts, "extensions", {}) or {}
            element = Element(
                id=element_id,
                type=type(ts).__name__,
                name=getattr(ts, "bpmn_name", None),
                lane=getattr(ts, "lane", None),
                properties=dict(extensions.get("properties", {})),
            )
            if isinstance(ts, LoopTask | MultiInstanceTask):
                child = process_spec.task_specs[ts.task_spec]
                element.multi_instance = True
                element.lane = getattr(child, "lane", None)
                element.type = "userTask" if isinstance(child, UserTask) else type(child).__name__
                element.properties = dict((getattr(child, "extensions", {}) or {}).get("properties", {}))
                if getattr(ts, "cardinality", None):
                    expressions.append(Expression(element_id, "cardinality", ts.cardinality))
                if getattr(ts, "condition", None):
                    expressions.append(Expression(element_id, "completion", ts.condition))
            elif f"{element_id} [child]" == ts.name or ts.name.endswith(" [child]"):
                continue  # described through its multi-instance parent
            if isinstance(ts, UserTask):
                element.type = "userTask"
            if isinstance(ts, ServiceTask):
                element.type = "serviceTask"
                element.operation = ts.operation_name
                for param in (ts.operation_params or {}).values():
                    expressions.append(Expression(element_id, "parameter", str(param["value"])))
            if isinstance(ts, ScriptTask) and ts.script:
                expressions.append(Expression(element_id, "script", ts.script, "exec"))
            for attr in ("prescript", "postscript"):
                if getattr(ts, attr, None):
                    expressions.append(Expression(element_id, "script", getattr(ts, attr), "exec"))
            for condition, _target in getattr(ts, "cond_task_specs", []) or []:
                # Spiff wraps each condition in an operator object; its source is args[0].
                text = condition.args[0] if hasattr(condition, "args") else condition
                if isinstance(text, str) and text.strip():
                    expressions.append(Expression(element_id, "condition", text))
            event_definition = getattr(ts, "event_definition", None)
            if isinstance(event_definition, TimerEventDefinition):
                expressions.append(Expression(element_id, "timer", event_definition.expression))
            if isinstance(event_definition, MessageEventDefinition):
                messages.add(event_definition.name)
                if type(ts).__name__ == "StartEvent" and process_spec is spec:
                    message_starts.add(event_definition.name)
                if getattr(event_definition, "expression", None):
                    expressions.append(Expression(element_id, "message", event_definition.expression))
            if element.multi_instance or not any(e.id == element_id for e in elements):
                elements = [e for e in elements if e.id != element_id] + [element]
    bundle = {
        "spec": SERIALIZER.to_dict(spec),
        "subprocess_specs": {name: SERIALIZER.to_dict(s) for name, s in subprocess_specs.items()},
    }
    content_hash = hashlib.sha256(f"{key}\n{source}".encode()).hexdigest()
    return ProcessModel(
        key=key,
        name=title,
        file_name=file_name,
        source=source,
        content_hash=content_hash,
        spec_json=dumps(bundle),
        elements=sorted(elements, key=lambda e: e.id),
        expressions=expressions,
        message_names=sorted(messages),
        message_starts=sorted(message_starts),
    )
