"""Options a field takes from the platform's data: `"x-choices": "<source>"` on a top-level
property makes its options what the source offers the person filling the form in (e.g. the
applicant's own unit, shown by name instead of a bare id). The same enriched schema renders
and validates, so a posted value outside the options is refused like any enumeration."""

import copy
from collections.abc import Callable

Source = Callable[..., list[tuple[object, str]]]
_sources: dict[str, Source] = {}


def choice_source(name: str):
    """Register `fn(*, session, user, value) -> [(value, title)]`; `value` is the field's
    current value, so a form shown to someone else still names it."""

    def register(fn: Source) -> Source:
        _sources[name] = fn
        return fn

    return register


def with_choices(schema: dict, *, session, user, values: dict | None = None) -> dict:
    """The schema with each `x-choices` field's options filled in; unchanged when none."""
    props = schema.get("properties") or {}
    wanted = {
        name: prop["x-choices"]
        for name, prop in props.items()
        if isinstance(prop, dict) and prop.get("x-choices")
    }
    if not wanted:
        return schema
    schema = copy.deepcopy(schema)
    for name, source in wanted.items():
        fn = _sources.get(source)
        if fn is None:
            continue  # unknown source: the field stays a plain input
        value = (values or {}).get(name)
        options = list(dict.fromkeys(fn(session=session, user=user, value=value)))
        if options:
            schema["properties"][name]["oneOf"] = [{"const": v, "title": t} for v, t in options]
    return schema
