"""The script sandbox: what scripts can do, what they cannot, and that SpiffWorkflow runs it."""

import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from backend.engine.sandbox import (
    SandboxCompileError,
    SandboxEnvironment,
    SandboxError,
    SandboxTimeout,
    SandboxViolation,
    money,
)

GUARD_NAMES = {
    "_getattr_",
    "_getitem_",
    "_getiter_",
    "_write_",
    "_print_",
    "_print",
    "_inplacevar_",
    "_tick_",
}


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment(time_limit=0.3)


# -- expressions ---------------------------------------------------------------------------------


def test_evaluate_reads_task_data(env):
    data = {"a": 2, "items": [3, 1, 2], "status": "已批准"}
    assert env.evaluate("a * 10 + 1", data) == 21
    assert env.evaluate("sorted(items)[0] + len(items) + max(items)", data) == 7
    assert env.evaluate("status == '已批准' and a > 1", data) is True
    assert env.evaluate("[i for i, v in enumerate(items) if v > 1]", data) == [0, 2]


def test_evaluate_does_not_change_task_data(env):
    data = {"a": 1}
    assert env.evaluate("(b := a + 1) * 2", data) == 4
    assert data == {"a": 1}


def test_evaluate_sees_external_context_but_task_data_wins(env):
    assert env.evaluate("x + y", {"x": 1}, external_context={"x": 100, "y": 10}) == 11


def test_dates_and_decimals_are_available(env):
    assert env.evaluate("date(2024, 2, 28) + timedelta(days=2)", {}) == date(2024, 3, 1)
    assert env.evaluate("datetime(2024, 1, 1, tzinfo=UTC).tzinfo is timezone.utc", {}) is True
    assert env.evaluate("Decimal('0.1') + Decimal('0.2') == Decimal('0.3')", {}) is True


# -- scripts -----------------------------------------------------------------------------------------


def test_script_writes_back_only_plain_data(env):
    data = {"a": 1}
    script = "\n".join(
        [
            "b = a + 1",
            "names = ['甲', '乙']",
            "def double(x):",
            "    return x * 2",
            "c = double(b)",
            "f = lambda x: x",
            "m = map(str, names)",
            "print('debug', c)",
        ]
    )
    assert env.execute(script, data) is True
    # No functions, iterators, builtins, helpers or RestrictedPython guards leak into task data.
    assert data == {"a": 1, "b": 2, "names": ["甲", "乙"], "c": 4}
    assert not GUARD_NAMES & set(data)


def test_script_del_removes_task_data(env):
    data = {"a": 1, "tmp": "x"}
    env.execute("del tmp\nb = a", data)
    assert data == {"a": 1, "b": 1}


def test_script_that_fails_leaves_task_data_unchanged(env):
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("b = 2\ndel a\nc = 1 / 0", data)
    assert data == {"a": 1}


def test_errors_from_script_code_keep_their_type(env):
    with pytest.raises(NameError):
        env.execute("x = missing + 1", {})
    with pytest.raises(KeyError):
        env.evaluate("d['nope']", {"d": {}})


def test_augmented_assignment(env):
    data = {"n": 1, "s": "项目", "items": [1], "amount": Decimal("1.50")}
    env.execute("n += 2\nn *= 3\nn -= 1\ns += '-甲'\nitems += [2]\namount += Decimal('0.25')", data)
    assert data == {"n": 8, "s": "项目-甲", "items": [1, 2], "amount": Decimal("1.75")}


def test_item_writes_and_unpacking(env):
    data = {"budget": {"total": 0}, "rows": [("a", 1), ("b", 2)]}
    env.execute("for name, value in rows:\n    budget[name] = value\nx, (y, z) = 1, (2, 3)", data)
    assert data["budget"] == {"total": 0, "a": 1, "b": 2}
    assert (data["x"], data["y"], data["z"]) == (1, 2, 3)


def test_task_data_shadows_a_builtin(env):
    data = {"date": "2024-05-01"}
    env.execute("copy = date", data)
    assert data["copy"] == "2024-05-01"


# -- money -------------------------------------------------------------------------------------------


def test_money_is_decimal_to_the_fen(env):
    assert money("0.125") == Decimal("0.13")  # ROUND_HALF_UP, not banker's rounding
    assert money(3) == Decimal("3.00")
    assert money(Decimal("2.344")) == Decimal("2.34")
    data = {"price": "1999.995", "qty": 3}
    env.execute("total = money(price) * qty\nfee = money(total * Decimal('0.006'))", data)
    assert data["total"] == Decimal("6000.00")
    assert data["fee"] == Decimal("36.00")


@pytest.mark.parametrize("value", [0.1, True, "abc", "NaN", None])
def test_money_refuses_float_and_junk(value):
    with pytest.raises((TypeError, ValueError)):
        money(value)


def test_money_float_message_is_clear(env):
    with pytest.raises(TypeError, match="float"):
        env.evaluate("money(0.1)", {})


# -- helpers -----------------------------------------------------------------------------------------


def test_helpers_are_exposed_and_not_written_back():
    def add_workdays(start: date, days: int) -> date:
        return start + timedelta(days=days)

    env = SandboxEnvironment(helpers={"add_workdays": add_workdays, "VAT_RATE": Decimal("0.09")})
    data = {"start": date(2024, 1, 1)}
    env.execute("due = add_workdays(start, 3)\ntax = money(100) * VAT_RATE", data)
    assert data == {"start": date(2024, 1, 1), "due": date(2024, 1, 4), "tax": Decimal("9.0000")}
    assert env.evaluate("add_workdays(start, 1) > start", data) is True


def test_helper_names_must_be_public():
    with pytest.raises(ValueError):
        SandboxEnvironment(helpers={"_getattr_": getattr})


# -- what is blocked ---------------------------------------------------------------------------------

ESCAPES = [
    "import os",
    "from os import path",
    "__import__('os')",
    "x = ().__class__.__mro__",
    "x = ().__class__.__mro__[1].__subclasses__()",
    "x = [].__class__.__base__.__subclasses__()",
    "x = open('/etc/passwd').read()",
    "f = open\nf('/etc/passwd')",
    "exec('x = 1')",
    "eval('1 + 1')",
    "compile('1', 'f', 'eval')",
    "x = getattr((), '__class__')",
    "g = getattr\nx = g(g, '__globals__')",
    "x = globals()",
    "x = vars()",
    "x = type(())",
    "x = 'a{0.__class__}'.format(1)",
    "class A:\n    pass",
]


@pytest.mark.parametrize("script", ESCAPES)
def test_escape_attempts_are_blocked(env, script):
    data: dict = {}
    with pytest.raises(SandboxError) as caught:
        env.execute(script, data)
    assert str(caught.value)
    assert data == {}


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "().__class__.__mro__",
        "getattr(1, '__class__')",
        "open('/etc/passwd')",
        "eval('1')",
    ],
)
def test_escape_attempts_in_expressions_are_blocked(env, expression):
    with pytest.raises(SandboxError):
        env.evaluate(expression, {})


def test_dunder_getattr_is_a_violation(env):
    with pytest.raises(SandboxViolation, match="__class__"):
        env.evaluate("getattr(x, '__class__')", {"x": 1})
    assert env.evaluate("getattr(x, 'real')", {"x": 1}) == 1


def test_huge_range_is_refused(env):
    with pytest.raises(SandboxViolation, match="range"):
        env.execute("total = sum(range(10 ** 7))", {})
    with pytest.raises(SandboxViolation):
        env.evaluate("len(range(10 ** 30))", {})
    assert env.evaluate("sum(range(1, 101))", {}) == 5050


# -- time limit --------------------------------------------------------------------------------------

RUNAWAYS = [
    "while True:\n    pass",
    "x = 0\nwhile x >= 0:\n    x += 1",
    # Catching the timeout must not buy more time.
    "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
    "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass",
    "try:\n    while True:\n        pass\nexcept Exception:\n    caught = True",
    "f = lambda n: n and f(n - 1) + f(n - 1)\nx = f(60)",
    "def f(n):\n    return 1 if n == 0 else f(n - 1) + f(n - 1)\nx = f(60)",
    "x = [1 for a in range(10 ** 6) for b in range(10 ** 6)]",
]


@pytest.mark.parametrize("script", RUNAWAYS)
def test_runaway_script_is_stopped(env, script):
    data: dict = {}
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        env.execute(script, data)
    assert time.monotonic() - started < env.time_limit + 1
    assert data == {}


def test_runaway_expression_is_stopped(env):
    with pytest.raises(SandboxTimeout):
        env.evaluate("sum(1 for a in range(10 ** 6) for b in range(10 ** 6))", {})


def test_time_limit_works_in_a_worker_thread(env):
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            env.execute("while True:\n    pass", {})
        except BaseException as exc:  # reported to the main thread
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=env.time_limit + 5)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], SandboxTimeout)


def test_trace_function_is_left_alone(env):
    calls: list[str] = []

    def tracer(frame, event, arg):
        calls.append(event)
        return None

    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        env.execute("x = 1", {})
        with pytest.raises(SandboxTimeout):
            env.execute("while True:\n    pass", {})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(before)
    assert sys.gettrace() is before


# -- deploy-time check -------------------------------------------------------------------------------


def test_check_accepts_valid_source(env):
    assert env.check("a > 1 and money('1') > 0", "eval") is None
    assert env.check("x = 1\nfor i in range(3):\n    x += i", "exec") is None


def test_check_reports_syntax_error_line(env):
    with pytest.raises(SandboxCompileError) as caught:
        env.check("x = 1\ny = (\n", "exec")
    assert caught.value.line == 2
    assert caught.value.message


def test_check_refuses_import_with_line(env):
    with pytest.raises(SandboxCompileError, match="import") as caught:
        env.check("x = 1\n\nimport os", "exec")
    assert caught.value.line == 3
    with pytest.raises(SandboxCompileError, match="import"):
        env.check("from subprocess import run", "exec")


def test_check_refuses_underscore_names_and_statements_in_eval(env):
    with pytest.raises(SandboxCompileError) as caught:
        env.check("a = 1\n_secret = 2", "exec")
    assert caught.value.line == 2
    with pytest.raises(SandboxCompileError):
        env.check("x = 1", "eval")
    with pytest.raises(ValueError):
        env.check("x", "single")


def test_compiled_code_is_cached():
    from backend.engine.sandbox import _compile

    assert _compile("a + 1", "eval") is _compile("a + 1", "eval")


def test_call_service_is_not_the_sandboxs_job(env):
    with pytest.raises(NotImplementedError):
        env.call_service({}, operation_name="x", operation_params={})


# -- inside SpiffWorkflow ----------------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="sandboxed" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="计算">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="decide" default="f_small">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute" />
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="decide" />
    <bpmn:sequenceFlow id="f_big" sourceRef="decide" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">x &gt; 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="decide" targetRef="end_small" />
  </bpmn:process>
</bpmn:definitions>
"""


def _run_process(script: str, a: int) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.format(script=script).encode("utf-8"), filename="sandboxed.bpmn")
    spec = parser.get_spec("sandboxed")
    engine = PythonScriptEngine(environment=SandboxEnvironment(time_limit=0.5))
    workflow = BpmnWorkflow(spec, {}, script_engine=engine)
    workflow.get_tasks(state=TaskState.READY)[0].data.update({"a": a})
    workflow.do_engine_steps()
    return workflow


def _ended_at(workflow: BpmnWorkflow) -> set[str]:
    return {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)} & {
        "end_big",
        "end_small",
    }


@pytest.mark.parametrize(("a", "end"), [(5, "end_big"), (0, "end_small")])
def test_spiffworkflow_runs_scripts_and_conditions_in_the_sandbox(a, end):
    workflow = _run_process("x = a + 1", a)
    assert workflow.is_completed()
    assert _ended_at(workflow) == {end}
    assert workflow.data["x"] == a + 1
    assert not GUARD_NAMES & set(workflow.data)


def test_spiffworkflow_run_fails_on_import():
    with pytest.raises(WorkflowException) as caught:
        _run_process("import os\nx = a + 1", 5)
    assert "import" in str(caught.value)
