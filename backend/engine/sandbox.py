"""The script sandbox: every BPMN script and expression runs here, never through plain eval/exec.

Scripts, gateway conditions, timer and multi-instance expressions, message payloads and
service-task parameters come from process designers and are untrusted. They are compiled
with RestrictedPython (no imports, no names or attributes starting with "_", guarded
attribute/item/iteration access) and run against a whitelist of builtins plus the host's
helpers. A time limit stops runaway loops.

Time limit: the compiler inserts a clock check (`_tick_()`) at the top of every loop body,
function and lambda body and into every comprehension. Once the deadline has passed every
check raises `SandboxTimeout`, so a script that catches the timeout (`except Exception`) or
loops in a `finally` is stopped again at its next iteration. A `sys.settrace` tracer cannot
do that: CPython uninstalls a trace function as soon as it raises, so the first caught
timeout would leave the rest of the script unbounded. Ticks work in any thread and leave
debuggers and coverage alone. They cannot interrupt one long C-level operation
(`10 ** 10 ** 8`, `"x" * 10 ** 10`); CPU and memory caps belong to the worker process.
"""

from __future__ import annotations

import ast
import logging
import operator
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from types import CodeType, ModuleType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

__all__ = [
    "EXPRESSION_FILENAME",
    "MAX_RANGE",
    "SCRIPT_FILENAME",
    "SandboxCompileError",
    "SandboxEnvironment",
    "SandboxError",
    "SandboxTimeout",
    "SandboxViolation",
    "money",
]

log = logging.getLogger(__name__)

SCRIPT_FILENAME = "<bpmn-script>"
EXPRESSION_FILENAME = "<bpmn-expression>"
MAX_RANGE = 1_000_000
COMPILE_CACHE_SIZE = 4096

Mode = Literal["eval", "exec"]
_FILENAMES: dict[str, str] = {"eval": EXPRESSION_FILENAME, "exec": SCRIPT_FILENAME}
_TICK = "_tick_"  # starts with "_": scripts can neither name nor shadow it


# -- errors ----------------------------------------------------------------------------------------


class SandboxError(Exception):
    """Base of everything the sandbox itself refuses (not errors raised by the script's own code)."""


class SandboxCompileError(SandboxError):
    """The source does not compile: a syntax error or a construct the sandbox refuses."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"{self.message} (line {self.line})" if self.line else self.message


class SandboxTimeout(SandboxError):
    """The script or expression ran past its time limit."""


class SandboxViolation(SandboxError):
    """The script tried something the sandbox blocks at run time (dunder access, open(), ...)."""


# -- compiling ---------------------------------------------------------------------------------------

# Calls refused at deploy time: each is also a run-time stub (see _blocked) in case it is reached
# indirectly, e.g. `f = open`.
_BLOCKED_CALLS = frozenset(
    {
        "open",
        "compile",
        "globals",
        "locals",
        "vars",
        "dir",
        "type",
        "input",
        "help",
        "exit",
        "quit",
        "memoryview",
        "breakpoint",
    }
)
_LINE_PREFIX = re.compile(r"^Line (\d+): ")


def _tick_call() -> ast.Call:
    return ast.Call(func=ast.Name(id=_TICK, ctx=ast.Load()), args=[], keywords=[])


class _TickInserter(ast.NodeTransformer):
    """Puts a clock check wherever a script can repeat work: loops, calls and comprehensions."""

    def _prefix_body(self, node: ast.For | ast.While | ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_tick_call()), node))
        return node

    visit_For = visit_While = visit_FunctionDef = _prefix_body

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        # `_tick_()` returns True, so `True and body` is body.
        node.body = ast.BoolOp(op=ast.And(), values=[_tick_call(), node.body])
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs.insert(0, _tick_call())
        return node


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus our refusals and the clock checks."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        # RestrictedPython compiles imports and relies on a missing __import__; refuse them up front
        # so deploy-time lint reports them.
        self.error(node, "脚本不允许导入模块 / import is not allowed")
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "脚本不允许定义类 / class definitions are not allowed")
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id in _BLOCKED_CALLS:
            self.error(node, f"脚本不允许调用 {node.func.id}() / {node.func.id}() is not allowed")
        return super().visit_Call(node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node = super().visit_Module(node)
        return node if self.errors else ast.fix_missing_locations(_TickInserter().visit(node))

    def visit_Expression(self, node: ast.Expression) -> ast.AST:
        node = super().visit_Expression(node)
        return node if self.errors else ast.fix_missing_locations(_TickInserter().visit(node))


@lru_cache(maxsize=COMPILE_CACHE_SIZE)
def _compile(source: str, mode: Mode) -> CodeType:
    """Compile once per (source, mode): the same conditions run for every instance."""
    if mode not in _FILENAMES:
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise TypeError(f"source must be str, not {type(source).__name__}")
    filename = _FILENAMES[mode]
    try:
        tree = ast.parse(source, filename, mode)
    except SyntaxError as exc:
        raise SandboxCompileError(f"语法错误 / syntax error: {exc.msg}", exc.lineno) from None
    compile_mode = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compile_mode(tree, filename, policy=_SandboxPolicy)
    if result.errors:
        first = _LINE_PREFIX.match(result.errors[0])
        messages = "; ".join(_LINE_PREFIX.sub("", error) for error in result.errors)
        raise SandboxCompileError(messages, int(first.group(1)) if first else None)
    assert result.code is not None
    return result.code


# -- run-time names ----------------------------------------------------------------------------------


def money(value: str | int | Decimal) -> Decimal:
    """An amount in yuan, to the fen (2 places, ROUND_HALF_UP). Never from a float."""
    if isinstance(value, float):
        raise TypeError(
            f"money() 不接受浮点数 {value!r}, 请使用字符串或 Decimal / money() refuses float {value!r}: "
            "pass a str, int or Decimal"
        )
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(
            f"money() 需要 str、int 或 Decimal / money() needs str, int or Decimal, not {type(value).__name__}"
        )
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
        if not amount.is_finite():
            raise InvalidOperation
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"money() 无法识别金额 {value!r} / money() cannot read {value!r}") from None


def _bounded_range(*args: int) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:  # more items than sys.maxsize
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise SandboxViolation(f"range() 最多 {MAX_RANGE:,} 项 / range() over {MAX_RANGE:,} items is refused")
    return result


def _check_attribute(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError("attribute name must be str")
    if name.startswith("_") or name in INSPECT_ATTRIBUTES:
        raise SandboxViolation(f"脚本不允许访问属性 {name!r} / access to attribute {name!r} is not allowed")


_NO_DEFAULT = object()


def _guarded_getattr(obj: object, name: str, default: Any = _NO_DEFAULT) -> Any:
    """`_getattr_` and the script's `getattr`: RestrictedPython's safer_getattr with clear refusals."""
    _check_attribute(name)
    try:
        if default is _NO_DEFAULT:
            return safer_getattr_raise(obj, name)
        return safer_getattr(obj, name, default)
    except NotImplementedError as exc:  # safer_getattr's refusal of str.format & co
        raise SandboxViolation(f"不允许使用, 请改用 f-string / {exc}: use an f-string") from None


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise SandboxViolation(f"不支持的运算 {op} / operator {op} is not supported") from None


def _blocked(name: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise SandboxViolation(f"脚本不允许调用 {name}() / {name}() is not allowed")

    refuse.__name__ = name
    return refuse


def _base_names() -> dict[str, Any]:
    names: dict[str, Any] = dict(safe_builtins)
    names.pop("__build_class__", None)  # class definitions are refused at compile time
    names.update({name: _blocked(name) for name in _BLOCKED_CALLS})
    names.update(
        sum=sum,
        min=min,
        max=max,
        len=len,
        abs=abs,
        round=round,
        sorted=sorted,
        reversed=reversed,
        enumerate=enumerate,
        zip=zip,
        any=any,
        all=all,
        list=list,
        dict=dict,
        set=set,
        tuple=tuple,
        str=str,
        int=int,
        float=float,
        bool=bool,
        range=_bounded_range,
        isinstance=isinstance,
        map=map,
        filter=filter,
        getattr=_guarded_getattr,
        Decimal=Decimal,
        date=date,
        datetime=datetime,
        timedelta=timedelta,
        timezone=timezone,
        UTC=UTC,
        money=money,
    )
    return names


# The names RestrictedPython's compiled code calls. _getiter_ is plain iter: data is plain JSON-ish
# values, so there is nothing to hide while iterating.
_GUARDS: dict[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": _getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,  # item/attribute writes only on dict and list objects
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,
    "_apply_": _apply,
}


class _Clock:
    """One run's deadline; `tick` is what the compiled code calls as `_tick_()`."""

    __slots__ = ("deadline", "expired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.expired = False

    def tick(self) -> bool:
        if time.monotonic() > self.deadline:
            self.expired = True
            raise self.timeout()
        return True

    def timeout(self) -> SandboxTimeout:
        return SandboxTimeout(
            f"脚本执行超过 {self.limit} 秒 / script exceeded its time limit of {self.limit}s"
        )


def _is_data(value: Any) -> bool:
    # What SpiffWorkflow drops (anything callable) plus what cannot be stored: modules, one-shot
    # iterators (map/filter/generator objects).
    return not (callable(value) or isinstance(value, ModuleType | Iterator))


# -- the environment ---------------------------------------------------------------------------------


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that compiles with RestrictedPython and bounds run time.

    Task data shadows builtins and helpers, as globals shadow builtins in Python: a form field
    named `date` hides `date` from scripts of that instance but does not break them.
    Helper values are shared by every run: pass functions and immutable constants only.
    """

    def __init__(self, helpers: Mapping[str, Any] | None = None, time_limit: float = 2.0) -> None:
        if time_limit <= 0:
            raise ValueError("time_limit must be positive")
        names = _base_names()
        for name, value in (helpers or {}).items():
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"helper name {name!r} must be an identifier not starting with '_'")
            names[name] = value
        super().__init__(names)
        self.time_limit = time_limit
        # Scripts see these as builtins: they cannot reach (underscore) or change this dict.
        self._builtins: dict[str, Any] = {**names, **_GUARDS}

    # -- SpiffWorkflow interface --------------------------------------------------------------------

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        code = _compile(expression, "eval")
        clock = _Clock(self.time_limit)
        namespace = self._namespace(clock, context, external_context)
        return self._run(lambda: eval(code, namespace), clock)

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        external = external_context or {}
        clashes = set(external).intersection(context)
        if clashes:  # as SpiffWorkflow's TaskDataEnvironment: the script would silently lose these
            raise ValueError(f"task data overwrites predefined names, rename them: {sorted(clashes)}")
        code = _compile(script, "exec")
        clock = _Clock(self.time_limit)
        namespace = self._namespace(clock, context, external)
        self._run(lambda: exec(code, namespace), clock)
        self._log_printed(namespace)
        # Only after success: a failing script leaves task data as it was.
        for name in [name for name in context if name not in namespace]:
            del context[name]  # `del x` in the script
        for name, value in namespace.items():
            if name.startswith("_") or (name in external and name not in context) or not _is_data(value):
                continue
            if name not in context or context[name] is not value:
                context[name] = value
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("service calls are dispatched by the engine adapter, not the sandbox")

    # -- deploy-time lint ---------------------------------------------------------------------------

    def check(self, source: str, mode: str) -> None:
        """Compile only; raise SandboxCompileError (with .line) if the source cannot run here."""
        if mode not in _FILENAMES:
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        _compile(source, mode)  # type: ignore[arg-type]

    # -- internals ----------------------------------------------------------------------------------

    def _namespace(
        self, clock: _Clock, context: Mapping[str, Any], external_context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        namespace: dict[str, Any] = {**(external_context or {}), **context}
        # Set last: task data (from forms) must not replace the builtins or the clock.
        namespace["__builtins__"] = self._builtins
        namespace[_TICK] = clock.tick
        return namespace

    @staticmethod
    def _run(run: Callable[[], Any], clock: _Clock) -> Any:
        try:
            result = run()
        except Exception as exc:
            # The script caught the timeout and then failed otherwise: the timeout is the cause.
            if clock.expired and not isinstance(exc, SandboxTimeout):
                raise clock.timeout() from exc
            raise
        if clock.expired:  # caught the timeout and finished anyway
            raise clock.timeout()
        return result

    @staticmethod
    def _log_printed(namespace: Mapping[str, Any]) -> None:
        printed = namespace.get("_print")  # RestrictedPython's collector, only if print() was used
        if isinstance(printed, PrintCollector):
            log.debug("script printed: %s", printed())
