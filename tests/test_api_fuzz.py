"""Schemathesis against the API's own OpenAPI document, as an owner's API token.

Each operation is one test on a fresh database holding a small clinic and a real record behind
every id (``route_targets``). Schemathesis generates valid and invalid requests from the
document; path ids are real half the time, so operations get past "not found" into their
services, destructive admin operations included. Every answer must be a documented status
with a documented content type and body, and never a server error.

Run alone and reproduce: see docs/development.md (Tests).
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from physioez import installed
from physioez.admin.services.tokens import create_api_token
from physioez.core.kernel import identity
from physioez.core.web.api import API_PREFIX, openapi_path
from physioez.core.web.modules import WebParts
from physioez.core.web.shell_api import api as shell_api

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# ~25 examples per operation keeps the whole run to a few minutes on two cores; raise it with
# PHYSIOEZ_FUZZ_EXAMPLES when hunting.
EXAMPLES = int(os.environ.get("PHYSIOEZ_FUZZ_EXAMPLES", "25"))


def _operations() -> list[tuple[str, str]]:
    """(method, OpenAPI path) of every operation, known without an app, for the test ids."""
    apis = [shell_api]
    for module in installed.modules():
        parts = module.resolve("web")
        if isinstance(parts, WebParts):
            apis.extend(parts.apis)
    return [
        (op.method.upper(), openapi_path(API_PREFIX + op.path))
        for api in apis
        for op in api.operations
    ]


@pytest.fixture
def owner_token(app, make_staff, system_actor) -> str:
    owner = make_staff("owner", username="fuzz.owner")
    with app.app_context():
        _, secret = create_api_token(
            system_actor,
            owner,
            name="fuzz",
            scopes=sorted(identity.permissions_for_roles(owner.role_codes)),
            expires_days=1,
        )
    return secret


@pytest.mark.parametrize(
    ("method", "path"), _operations(), ids=[f"{m} {p}" for m, p in _operations()]
)
def test_operation_keeps_to_the_document(app, owner_token, route_targets, method, path):
    operation = schemathesis.openapi.from_wsgi(f"{API_PREFIX}/openapi.json", app)[path][method]
    known = {name: route_targets[name] for name in re.findall(r"{(\w+)}", path)}
    auth = {"Authorization": f"Bearer {owner_token}"}
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def keeps_to_the_document(case):
        case.call_and_validate(headers=auth, checks=CHECKS)

    keeps_to_the_document()
