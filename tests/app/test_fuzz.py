"""Property-based fuzzing with schemathesis against the app's own OpenAPI document (in-process ASGI).

Every operation gets generated valid and invalid requests (bounded: a few examples each, fixed seed);
every response must be a non-5xx with a documented status code, content type, headers and body schema,
and invalid requests must be rejected.

schemathesis' own pytest integration (``@schema.parametrize()``) fails on pytest 9.2 (it reads
``request.node._nodeid``), so the cases are drawn from its Hypothesis strategies directly.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from indexer.collection import Collection
from tests.app.conftest import AUTH, KEY, make_settings, write_docs

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
SLOW = {"/explain": 6, "/explain/tokens": 6}  # ~0.3 s per NumPy trace: fewer examples
# Small limits keep generated requests cheap to embed; a key exercises auth on every call.
LIMITS = {"api_keys": KEY, "max_texts": 4, "max_text_chars": 200, "max_query_chars": 100, "max_k": 20,
          "max_documents": 3, "max_body_bytes": 64 * 1024, "max_explain_chars": 40}


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every operation; negative cases only where there is input to break."""
    # Building the app loads nothing (the model loads in lifespan), so this is cheap at collection time.
    doc = create_app(make_settings("/nonexistent", **LIMITS)).openapi()  # type: ignore[arg-type]
    cases = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if op.get("parameters") or op.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(embedder, tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz-data")
    write_docs(data / "docs")
    with Collection.create(data, "notes", embedder) as coll:
        coll.upsert_documents([{"id": "a", "text": "Cats purr.", "metadata": {"k": 1}},
                               {"id": "b/c", "text": "Dogs bark.", "metadata": {}}])
    app = create_app(make_settings(data, **LIMITS), embedder=embedder)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # An unknown query parameter is not invalid input here: FastAPI ignores what a route does not
    # declare (as most HTTP APIs do), so schemathesis must not count one as negative data.
    schema.config.generation.update(allow_extra_parameters=False)
    return schema


@pytest.fixture
def started(api_schema):
    """schemathesis' pytest plugin ends ASGI lifespans after every test; start it again and wait until
    the collections are open (before that /readyz is a documented, but 5xx, 503)."""
    api_schema["/healthz"]["GET"].Case().call()
    assert api_schema.app.state.warmed_up.wait(60), "collections were not opened"
    return api_schema


@pytest.mark.parametrize("method, path, mode", _cases(), ids=lambda v: getattr(v, "value", v))
def test_api_conforms_to_its_openapi_document(started, method, path, mode):
    operation = started[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=min(EXAMPLES[mode], SLOW.get(path, 1000)), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()
