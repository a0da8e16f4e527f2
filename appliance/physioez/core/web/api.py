"""The JSON API under ``/api/v1``: routes declared with pydantic schemas.

One declaration gives three things: input validation with answers that name the offending
fields, the permission check, and the route's entry in the OpenAPI document, so the
document cannot drift from what the code accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel

from physioez import __version__
from physioez.core.kernel.errors import ServiceError
from physioez.core.web.access import public, requires
from physioez.core.web.boundary import validate

API_PREFIX = "/api/v1"


class BadInput(ServiceError):
    """A body the API cannot read at all (not JSON, not an object, nested too deep)."""

    status = 400


class ErrorOut(BaseModel):
    error: str
    fields: dict[str, str]


class SchemaNameClash(Exception):
    """Two different schemas would share one name in the OpenAPI document."""


# Answers every operation can give, whatever it does.
COMMON_ERRORS = {
    400: "Bad request (for example a missing CSRF token)",
    401: "Not signed in, or the token is wrong",
    403: "The role or token lacks the permission",
    422: "Invalid input; `fields` names each problem",
}
# An error answer's body: one model, or any of several (a 409 that is a clash or a state).
ErrorBodies = type[BaseModel] | tuple[type[BaseModel], ...]

# Answers an operation gives only when it can (see ``Api.route``'s ``errors``).
ERROR_MEANINGS = {
    404: "Something the request names does not exist",
    409: "Refused by the record's current state (already done, a clash, a likely duplicate)",
    413: "The request is larger than this box accepts",
    503: "A service this needs (a printer, head office) cannot be reached now; try again",
}


@dataclass
class ApiOperation:
    path: str
    method: str
    permission: str
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    tag: str
    form: type[BaseModel] | None = None
    files: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    errors: dict[int, ErrorBodies] = field(default_factory=dict)

    def error_answers(self) -> dict[int, ErrorBodies]:
        """Every error status this operation can answer, each with its body's model(s).

        A path parameter names a record, so the operation can answer 404; a body can be too
        large (413); the rest the route declares after reading its services.
        """
        answers: dict[int, ErrorBodies] = dict.fromkeys(COMMON_ERRORS, ErrorOut)
        if "<" in self.path:
            answers[404] = ErrorOut
        if self.body is not None or self.form is not None or self.files:
            answers[413] = ErrorOut
        answers.update(self.errors)
        return dict(sorted(answers.items()))


@dataclass
class ApiRegistry:
    operations: list[ApiOperation] = field(default_factory=list)

    def openapi(self) -> dict[str, Any]:
        schemas = _Components()
        paths: dict[str, Any] = {}
        for op in self.operations:
            entry: dict[str, Any] = {
                "summary": op.summary,
                "tags": [op.tag],
                "x-permission": op.permission,
                "responses": {
                    str(status): {
                        "description": COMMON_ERRORS.get(status) or ERROR_MEANINGS[status],
                        "content": {"application/json": {"schema": _refs(bodies, schemas)}},
                    }
                    for status, bodies in op.error_answers().items()
                },
            }
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(op.body, schemas)}},
                }
            if op.form is not None or op.files:
                form_schema = _schema(op.form, schemas) if op.form else {"properties": {}}
                properties = dict(form_schema.get("properties", {}))
                properties.update(
                    {name: {"type": "string", "format": "binary"} for name in op.files}
                )
                entry["requestBody"] = {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": properties,
                                "required": [*form_schema.get("required", []), *op.files],
                            }
                        }
                    },
                }
            if op.query is not None:
                entry["parameters"] = [
                    {
                        "name": name,
                        "in": "query",
                        "required": info.is_required(),
                        "description": info.description or "",
                        "schema": _schema(op.query, schemas)["properties"][name],
                    }
                    for name, info in op.query.model_fields.items()
                ]
            path_params = [
                part[1:-1].split(":")[-1] for part in op.path.split("/") if part.startswith("<")
            ]
            if path_params:
                entry.setdefault("parameters", []).extend(
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in path_params
                )
            ok: dict[str, Any] = {"description": "Success"}
            if op.response is not None:
                ok["content"] = {"application/json": {"schema": _ref(op.response, schemas)}}
            elif op.produces:
                binary = {"schema": {"type": "string", "format": "binary"}}
                ok["content"] = {media_type: binary for media_type in op.produces}
            entry["responses"][str(op.status)] = ok
            document_path = openapi_path(API_PREFIX + op.path)
            paths.setdefault(document_path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {"title": "PhysioEZ appliance API", "version": __version__},
            "servers": [{"url": "/"}],
            "components": {
                "schemas": dict(schemas),
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": current_app.config["SESSION_COOKIE_NAME"],
                        "description": "Browser sessions also send X-CSRF-Token on writes",
                    },
                },
            },
            "security": [{"bearer": []}, {"session": []}],
            "paths": paths,
        }


def openapi_path(rule: str) -> str:
    parts = []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].split(":")[-1] + "}"
        parts.append(part)
    return "/".join(parts)


class _Components(dict[str, Any]):
    """``components/schemas``: a name given to two different schemas is an error, not a
    silent overwrite that would describe one operation's input with another's."""

    def __setitem__(self, name: str, schema: Any) -> None:
        if name in self and self[name] != schema:
            raise SchemaNameClash(
                f"Two different schemas are named {name!r} in the OpenAPI document; "
                "rename one of the models or enums."
            )
        super().__setitem__(name, schema)

    def update(self, other: Mapping[str, Any]) -> None:  # type: ignore[override]
        for name, schema in other.items():
            self[name] = schema


@functools.cache
def _model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model's JSON schema and the definitions it refers to, made once per process and only
    read afterwards: pydantic takes about a millisecond a model, the document names some 400,
    and every app built in the process (the test suite builds one per test) would make them
    all again."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return schema, definitions


def _schema(model: type[BaseModel], defs: _Components) -> dict[str, Any]:
    schema, definitions = _model_schema(model)
    defs.update(definitions)
    return schema


def _ref(model: type[BaseModel], schemas: _Components) -> dict[str, str]:
    schemas[model.__name__] = _schema(model, schemas)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _refs(bodies: ErrorBodies, schemas: _Components) -> dict[str, Any]:
    if not isinstance(bodies, tuple):
        return _ref(bodies, schemas)
    return {"anyOf": [_ref(model, schemas) for model in bodies]}


MAX_JSON_DEPTH = 32
_OPENERS = frozenset(b"[{")


def _too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``data`` nests arrays and objects more than ``limit`` deep.

    Checked on the bytes before parsing: a body of ten thousand ``[`` would otherwise take
    the parser to Python's recursion limit. Bodies with few brackets skip the scan.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 saying what to send."""
    if _too_deep(request.get_data(cache=True)):
        raise BadInput(
            f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels; send a flatter one."
        )
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadInput("Send a JSON object as the request body.")
    return payload


class Api:
    """A module's slice of the API: a blueprint plus its operations in the registry."""

    def __init__(self, name: str, tag: str) -> None:
        self.blueprint = Blueprint(f"api_{name}", __name__, url_prefix=API_PREFIX)
        self.operations: list[ApiOperation] = []
        self.tag = tag

    def route(
        self,
        path: str,
        method: str,
        *,
        permission: str,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        form: type[BaseModel] | None = None,
        files: tuple[str, ...] = (),
        produces: tuple[str, ...] = (),
        upload_limit: Callable[[], int] | None = None,
        errors: Iterable[int] | Mapping[int, ErrorBodies] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``view(**path_args, body=..., query=..., form=...)`` returning a model.

        ``form`` and ``files`` describe a multipart upload (the view reads the files from the
        request); ``upload_limit`` lets that route accept a larger body than forms do;
        ``produces`` documents a non-JSON answer such as a file, by its media types.
        ``errors`` names the statuses beyond the common ones its services can answer with
        (404 for an id in the body, 409 for ``Conflict``, 503 for a printer or head office),
        mapped to a richer body's model (or a tuple of them) where the answer is more than
        ``ErrorOut``; 404 for
        a path parameter and 413 for a body are added without asking.
        """
        unknown = {*errors} - ERROR_MEANINGS.keys()
        if unknown:
            raise ValueError(f"{path}: no meaning for error statuses {sorted(unknown)}")
        error_models = (
            dict(errors) if isinstance(errors, Mapping) else dict.fromkeys(errors, ErrorOut)
        )

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def endpoint(**path_args: Any):
                kwargs: dict[str, Any] = dict(path_args)
                if body is not None:
                    kwargs["body"] = validate(body, json_body())
                if query is not None:
                    kwargs["query"] = validate(query, request.args.to_dict())
                if form is not None:
                    kwargs["form"] = validate(form, request.form.to_dict())
                result = view(**kwargs)
                if result is None:
                    return "", status
                if isinstance(result, BaseModel):
                    return jsonify(result.model_dump(mode="json")), status
                return result

            if upload_limit is not None:
                # A function attribute, read by security.py's body-size check.
                endpoint.physioez_upload_limit = upload_limit  # type: ignore[attr-defined]
            guarded = requires(permission)(endpoint)
            self.blueprint.add_url_rule(
                path, endpoint=view.__name__, view_func=guarded, methods=[method]
            )
            self.operations.append(
                ApiOperation(
                    path,
                    method,
                    permission,
                    summary,
                    body,
                    query,
                    response,
                    status,
                    self.tag,
                    form=form,
                    files=files,
                    produces=produces,
                    errors=error_models,
                )
            )
            return guarded

        return register


def init_api(app: Flask, apis: list[Api]) -> None:
    """Register each module's API blueprint and serve the OpenAPI document of them all."""
    registry = ApiRegistry()
    for api in apis:
        app.register_blueprint(api.blueprint)
        registry.operations.extend(api.operations)
    app.extensions["physioez_api"] = registry
    # Built once, now: a document that cannot be built (two schemas with one name) stops the
    # app from starting instead of failing the first person who asks for it.
    with app.app_context():
        document = registry.openapi()

    @public
    def openapi_document():
        return jsonify(document)

    app.add_url_rule(f"{API_PREFIX}/openapi.json", "openapi", openapi_document)
