"""The OpenAPI document is what outside tools build clients from: every /api/v1 operation
must say what it does, where it belongs, how to sign it and what its refusals look like."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.api.app import create_api
from engine.api.v1.errors import PREFIX

METHODS = {"get", "put", "post", "delete", "patch"}
SHARED_ERRORS = ("401", "403", "404", "422", "429")
ENVELOPE = "#/components/schemas/ErrorEnvelope"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_api().openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if path.startswith(PREFIX + "/")
        for method, operation in item.items()
        if method in METHODS
    ]


def test_it_is_openapi_3_1_with_named_schemas(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    assert {"ErrorEnvelope", "ErrorBody"} <= schemas.keys()
    assert operations(document), "no /api/v1 operations at all"


def test_every_operation_has_a_summary_and_a_tag(document: dict[str, Any]) -> None:
    missing = [
        f"{method} {path}: {what}"
        for method, path, operation in operations(document)
        for what in ("summary", "tags")
        if not operation.get(what)
    ]
    assert not missing, missing


def test_every_operation_documents_its_refusals_as_the_envelope(
    document: dict[str, Any],
) -> None:
    wrong = []
    for method, path, operation in operations(document):
        for status in SHARED_ERRORS:
            answer = operation["responses"].get(status)
            schema = (answer or {}).get("content", {}).get("application/json", {}).get("schema")
            if not answer or not answer.get("description") or schema != {"$ref": ENVELOPE}:
                wrong.append(f"{method} {path} {status}")
    assert not wrong, wrong
    rate_limited = operations(document)[0][2]["responses"]["429"]
    assert "Retry-After" in rate_limited["headers"]


def test_every_operation_is_signed_with_a_bearer_token(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s == s | {"type": "http", "scheme": "bearer"}]
    assert bearer, schemes
    unsigned = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if not any(bearer[0] in requirement for requirement in operation.get("security", []))
    ]
    assert not unsigned, unsigned
    # Signing is the security scheme's business, not a header parameter of each operation.
    as_parameter = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header" and parameter["name"].lower() == "authorization"
    ]
    assert not as_parameter, as_parameter


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_request_bodies_have_examples_or_described_fields(document: dict[str, Any]) -> None:
    """A body schema someone has to guess at is not documented: each names its fields
    with an example or a description, or carries an example of the whole."""
    schemas = document["components"]["schemas"]
    bare = []
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            schema = media.get("schema", {})
            ref = schema.get("$ref", "")
            if not ref.startswith("#/components/schemas/"):
                continue
            target = schemas[ref.rsplit("/", 1)[1]]
            fields = target.get("properties", {}).values()
            if "examples" in target or "example" in media or "examples" in media:
                continue
            if fields and not any("examples" in f or "description" in f for f in fields):
                bare.append(f"{method} {path}")
    assert not bare, bare


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


async def test_the_document_and_the_docs_page_are_served(api: httpx.AsyncClient) -> None:
    served = await api.get("/api/openapi.json")
    assert served.status_code == 200 and served.json()["openapi"].startswith("3.1")
    docs = await api.get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def test_settings_links_to_the_api_reference() -> None:
    """Settings → API tokens is where people get a token; the reference is one click on."""
    from flowbot_ui.pages import settings

    rendered = str(settings._tokens_card().render())
    assert "/api/docs" in rendered and "API reference" in rendered
