"""Property-based fuzzing with schemathesis against the app's own OpenAPI document (in-process ASGI),
once over a flat and once over an HNSW collection.

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
from indexer.stores.embedded import EmbeddedBackend
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


@pytest.fixture(scope="module", params=["flat", "hnsw"])
def api_schema(request, embedder, tmp_path_factory):
    """The app over a collection 'notes' of each index type (HNSW with a delete and an update behind it,
    its tombstone path); collections the fuzzer creates get that type too."""
    index_type = request.param
    data = tmp_path_factory.mktemp(f"fuzz-data-{index_type}")
    write_docs(data / "docs")
    with Collection.create(EmbeddedBackend(data), "notes", embedder, index_type=index_type) as coll:
        coll.upsert_documents([{"id": "a", "text": "Cats purr.", "metadata": {"k": 1}},
                               {"id": "b/c", "text": "Dogs bark.", "metadata": {}},
                               {"id": "gone", "text": "Deleted before the fuzzing starts."}])
        coll.delete_documents(["gone"])
        coll.upsert_documents([{"id": "a", "text": "Cats purr loudly.", "metadata": {"k": 1}}])
    app = create_app(make_settings(data, index_type=index_type, **LIMITS), embedder=embedder)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Negative cases must break a declared parameter or body: unknown query parameters are ignored, as
    # FastAPI (and most HTTP APIs) do, and the key is not theirs to break, since every call sends the
    # valid one (auth has its own tests). Otherwise whether such a case is drawn depends on the constants
    # Hypothesis collects from the code base, so any new module could turn the run red.
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
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
