"""Validate Plex Connect requests and responses against the Plex Connect OpenAPI file (for tests).

The spec (`../shared/reference/plex-connect-openapi.yaml`, 367 paths) is far too slow for openapi-core as a whole, so
it is loaded once per session with `yaml.CSafeLoader`, cut down to the path templates we exercise (components stay),
and every schema is made `nullable` (the generated spec marks nothing nullable while Plex sends `null` for absent
optional values; names and types are still checked; see plex-api.md 7b). Example values are dropped (some are YAML
timestamps, which are not JSON).

Usage:
    >>> validate_httpx_response(response)            # a FakePlex answer, with its request
    >>> validate_httpx_request(request)              # what a client is about to send
    >>> validate_response("GET", "/mdm/v1/parts", 200, body_bytes)

Each function raises the openapi-core validation error on a mismatch, and skips the calling test (pytest.skip) when
the shared spec file is absent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from tests._shared import shared_path

__all__ = [
    "CONNECT_PATHS",
    "SPEC_FILE",
    "SPEC_SERVER",
    "declared_fields",
    "openapi",
    "undeclared_fields",
    "validate_httpx_request",
    "validate_httpx_response",
    "validate_request",
    "validate_response",
]

SPEC_FILE = "plex-connect-openapi.yaml"
#: The spec's only server; requests are validated as if sent there, whatever host they really went to.
SPEC_SERVER = "https://connect.plex.com"
#: The path templates FakePlex serves and the client calls (GET).
CONNECT_PATHS: tuple[str, ...] = (
    "/mdm/v1/tenants",
    "/mdm/v1/tenants/{id}",
    "/mdm/v1/buildings",
    "/mdm/v1/parts",
    "/mdm/v1/parts/{id}",
    "/production/v1/production-definitions/workcenters",
    "/production/v1/production-definitions/workcenters/{id}",
    "/production/v1/production-definitions/workcenter-statuses",
    "/scheduling/v1/jobs",
    "/scheduling/v1/jobs/{id}",
    "/scheduling/v1/jobs/{id}/operations",
    "/production/v1/production-history/production-entries",
    "/production/v1/production-history/scrap-entries",
    "/production/v1/production-history/workcenter-status-entries",
    "/inventory/v1/inventory-tracking/containers",
    "/inventory/v1/inventory-definitions/locations",
    "/inventory/v1/inventory-history/container-location-moves",
)


@functools.cache
def _raw_spec() -> dict[str, Any]:
    with shared_path(SPEC_FILE).open("rb") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=yaml.CSafeLoader)
    return spec


def _schema(node: Any) -> Any:
    """Copy of a schema with `nullable: true` on it and every sub-schema, and no `example`s."""
    if not isinstance(node, dict):
        return node
    copy = {key: value for key, value in node.items() if key not in ("example", "examples")}
    if "properties" in copy:
        copy["properties"] = {name: _schema(sub) for name, sub in copy["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(copy.get(key), dict):
            copy[key] = _schema(copy[key])
    for key in ("allOf", "oneOf", "anyOf"):
        if key in copy:
            copy[key] = [_schema(sub) for sub in copy[key]]
    if "$ref" not in copy:
        copy["nullable"] = True
    return copy


def _content(content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        media: {**body, "schema": _schema(body["schema"])} if "schema" in body else body
        for media, body in content.items()
    }


def _operation(operation: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(operation)
    copy["parameters"] = [
        {**param, "schema": _schema(param["schema"])} if "schema" in param else param
        for param in operation.get("parameters", [])
    ]
    if "requestBody" in copy and "content" in copy["requestBody"]:
        copy["requestBody"] = {**copy["requestBody"], "content": _content(copy["requestBody"]["content"])}
    copy["responses"] = {
        status: {**response, "content": _content(response["content"])} if "content" in response else response
        for status, response in operation.get("responses", {}).items()
    }
    return copy


def _cut(spec: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    kept = {path: spec["paths"][path] for path in paths if path in spec["paths"]}
    missing = sorted(set(paths) - kept.keys())
    if missing:
        raise KeyError(f"path templates not in {SPEC_FILE}: {missing}")
    methods = ("get", "put", "post", "delete", "patch", "head", "options")
    cut_paths = {
        path: {key: _operation(value) if key in methods else value for key, value in item.items()}
        for path, item in kept.items()
    }
    components = dict(spec.get("components", {}))
    components["schemas"] = {name: _schema(schema) for name, schema in components.get("schemas", {}).items()}
    return {**spec, "paths": cut_paths, "components": components}


@functools.cache
def _openapi(paths: tuple[str, ...]) -> Any:
    from openapi_core import Config, OpenAPI

    # The file is a valid OpenAPI 3.0.3 document (checked once with openapi-spec-validator); re-checking the cut
    # copy on every session would only cost time.
    return OpenAPI.from_dict(_cut(_raw_spec(), paths), config=Config(spec_validator_cls=None))


def openapi(paths: Sequence[str] = CONNECT_PATHS) -> Any:
    """The openapi-core `OpenAPI` object for these path templates (built once per distinct set)."""
    return _openapi(tuple(sorted(paths)))


def _mock_request(
    method: str, path: str, query: Mapping[str, Sequence[str]] | None, headers: Mapping[str, str] | None
) -> Any:
    from openapi_core.testing import MockRequest

    return MockRequest(
        SPEC_SERVER,
        method,
        path,
        args={name: list(values) for name, values in (query or {}).items()},
        headers=dict(headers or {}),
    )


def validate_request(
    method: str,
    path: str,
    query: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    paths: Sequence[str] = CONNECT_PATHS,
) -> None:
    """Validate a Connect request (path and query parameters: names, required ones, types and formats)."""
    openapi(paths).validate_request(_mock_request(method, path, query, headers))


def validate_response(
    method: str,
    path: str,
    status: int,
    body: bytes,
    query: Mapping[str, Sequence[str]] | None = None,
    *,
    paths: Sequence[str] = CONNECT_PATHS,
) -> None:
    """Validate a Connect response body for its status against the schema documented for it."""
    from openapi_core.testing import MockResponse

    json.loads(body)  # a clear error first if it is not JSON at all
    openapi(paths).validate_response(_mock_request(method, path, query, None), MockResponse(body, status))


def _split(url: httpx.URL) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(str(url))
    return parts.path, parse_qs(parts.query, keep_blank_values=True)


def validate_httpx_request(request: httpx.Request, *, paths: Sequence[str] = CONNECT_PATHS) -> None:
    """Validate an `httpx.Request` aimed at the Connect API (e.g. captured by an event hook or a MockTransport)."""
    path, query = _split(request.url)
    validate_request(request.method, path, query, dict(request.headers), paths=paths)


def validate_httpx_response(response: httpx.Response, *, paths: Sequence[str] = CONNECT_PATHS) -> None:
    """Validate an `httpx.Response` (its body must have been read) against its request's operation."""
    path, query = _split(response.request.url)
    validate_response(response.request.method, path, response.status_code, response.content, query, paths=paths)


def declared_fields(path_template: str, status: int = 200, method: str = "get") -> frozenset[str]:
    """The property names the spec declares for the objects of a response (the items, for an array)."""
    spec = _raw_spec()
    schema = spec["paths"][path_template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    if schema.get("type") == "array":
        schema = schema["items"]
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return frozenset(schema.get("properties", {}))


def undeclared_fields(path_template: str, rows: Iterable[Mapping[str, Any]], status: int = 200) -> set[str]:
    """Field names in `rows` that the spec does not declare (the spec allows extras; Plex's real rows have none)."""
    declared = declared_fields(path_template, status)
    return {name for row in rows for name in row if name not in declared}
