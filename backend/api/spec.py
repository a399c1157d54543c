"""The OpenAPI 3.1 document of /api/v1, generated from the operations and their marshmallow
schemas (apispec), with the API-key security scheme and the problem schema."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from backend.api import schemas
from backend.api.operations import OPERATIONS
from backend.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE

TITLE = "重点项目管理平台 REST API"
VERSION = "1.0.0"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Bad request: malformed JSON or invalid query parameters (problem document)",
    401: "Missing, unknown, revoked or expired API key (problem document)",
    403: "The key lacks the scope or the region, or the user may not (problem document)",
    404: "Not found (problem document)",
    409: "Conflict with the current state, e.g. the task was completed meanwhile (problem document)",
    413: "Request body too large (problem document)",
    415: "Request body is not application/json (problem document)",
    422: "Validation failed; `errors` names the fields (problem document)",
    500: "Internal error (problem document)",
}
_cached: dict | None = None


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name.removesuffix("Schema") or name


def build() -> dict:
    marshmallow = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[marshmallow],
        info={
            "description": (
                "Authenticate with `Authorization: Bearer <API key>` (keys are issued at /admin/api-keys) "
                "or the browser session (writes then need the CSRF token). Errors are RFC 9457 problem "
                "documents. Lists paginate with `next_cursor`. Money is a string with two decimals, "
                "times are ISO 8601 in UTC. Accept-Language: en gives English messages (default Chinese)."
            )
        },
        servers=[{"url": "/"}],
    )
    marshmallow.map_to_openapi_type(schemas.MoneyField, "string", None)
    spec.components.security_scheme(
        "apiKey", {"type": "http", "scheme": "bearer", "description": "An API key issued at /admin/api-keys"}
    )
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": "session", "description": "The browser session"}
    )
    spec.components.schema("Problem", schema=schemas.ProblemSchema)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(op) -> dict:
    doc: dict = {
        "operationId": op.endpoint.removeprefix("api."),
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{"apiKey": []}, {"session": []}],
        "x-scope": op.scope,
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description + f"\n\nScope: `{op.scope}`."
    else:
        doc["description"] = f"Scope: `{op.scope}`."
    parameters = [
        {"in": "path", "name": name, "required": True, "schema": {"type": kind}}
        for name, kind in op.path_params.items()
    ]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    for status, schema in sorted(op.responses.items()):
        text = STATUS_TEXT.get(status, str(status))
        if status >= 400:
            doc["responses"][str(status)] = {
                "description": text,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}},
            }
        elif schema is None:
            doc["responses"][str(status)] = {"description": text}
        else:
            doc["responses"][str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": schema}},
            }
    return doc


def document() -> dict:
    """Built once per process: the operations do not change while it runs."""
    global _cached
    if _cached is None:
        _cached = build()
    return _cached
