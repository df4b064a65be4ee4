"""Settings: every choice the library accepts, and only those; one line per bad value."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from app.settings import Backend, Engine, Fusion, IndexType, InvalidSettings, Precision, Settings


def test_the_choices_are_the_librarys_own() -> None:
    from indexer import embedding, search
    from indexer.stores.embedded import vectors

    assert get_args(Backend) == embedding.BACKENDS
    assert get_args(Engine) == embedding.ENGINES
    assert get_args(Precision) == embedding.cpu.PRECISIONS
    assert get_args(IndexType) == vectors.INDEX_TYPES
    assert get_args(Fusion) == search.FUSIONS
    for p in get_args(Precision):  # (int8 with NNCF installed, as the test extra has it)
        assert embedding.resolve_precision(p, int8_ok=True) in ("fp32", "bf16", "int8")


def test_every_bad_value_is_named_with_what_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMSEARCH_ENGINE", "cuda")
    monkeypatch.setenv("SEMSEARCH_MAX_BODY_BYTES", "10")
    with pytest.raises(InvalidSettings) as e:
        Settings.load()
    assert str(e.value).splitlines() == [
        "SEMSEARCH_ENGINE='cuda' is not valid: allowed values are auto, openvino, torch, encode",
        "SEMSEARCH_MAX_BODY_BYTES='10' is not valid: it must be an integer, at least 1024"]


def test_the_fingerprint_is_the_data_folder_and_how_the_model_loads(tmp_path: Any) -> None:
    base = Settings.load(data_dir=tmp_path)
    assert Settings.load(data_dir=tmp_path / "." ).fingerprint() == base.fingerprint()
    assert Settings.load(data_dir=tmp_path, port=9999, max_k=5).fingerprint() == base.fingerprint()
    for other in ({"data_dir": tmp_path / "x"}, {"data_dir": tmp_path, "backend": "minimal"},
                  {"data_dir": tmp_path, "precision": "fp32"}, {"data_dir": tmp_path, "model": "/models/e5"}):
        assert Settings.load(**other).fingerprint() != base.fingerprint(), other


def test_the_client_key_defaults_to_the_servers_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMSEARCH_API_KEYS", "k1,k2")
    assert Settings.load().client_api_key() == "k1"
    monkeypatch.setenv("SEMSEARCH_API_KEY", "mine")
    assert Settings.load().client_api_key() == "mine"


def test_the_fusion_setting_is_what_a_hybrid_query_uses(tmp_path: Any, embedder: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    import app.cli as cli
    from indexer.collection import Collection
    from indexer.stores.embedded import EmbeddedBackend
    from tests.indexer.test_collection import make_folder

    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    with Collection.create(EmbeddedBackend(tmp_path / "data"), "default", embedder) as coll:
        coll.index_folder(make_folder(tmp_path / "docs"))
        rrf = [h.score for h in coll.search("a cat on the mat", mode="hybrid", fusion="rrf")]
        relative = [h.score for h in coll.search("a cat on the mat", mode="hybrid", fusion="relative")]
    assert rrf != relative
    monkeypatch.setenv("SEMSEARCH_FUSION", "rrf")
    res = CliRunner().invoke(cli.app, ["query", "a cat on the mat", "--data-dir", str(tmp_path / "data"),
                                       "--server", "none", "--json"])
    assert res.exit_code == 0, res.output
    assert [h["score"] for h in json.loads(res.stdout)["hits"]] == [round(s, 4) for s in rrf]  # the JSON's 4 decimals


def test_postgres_settings_that_do_not_fit_together_say_what_is_missing() -> None:
    from app.settings import InvalidSettings, Settings

    with pytest.raises(InvalidSettings) as e:
        Settings.load(store="postgres")
    assert "SEMSEARCH_POSTGRES_URL" in str(e.value) and "postgresql://" in str(e.value)
    with pytest.raises(InvalidSettings) as e:
        Settings.load(store="postgres", postgres_url="postgresql://db/search", postgres_reads="standby")
    assert "SEMSEARCH_POSTGRES_READ_URLS" in str(e.value)
    urls = "postgresql://a:1,b:2/s?target_session_attrs=any, postgres://c/s"  # a URL may hold commas itself
    got = Settings.load(store="postgres", postgres_url="postgresql://db/search", postgres_read_urls=urls)
    assert [u.get_secret_value() for u in got.postgres_read_urls] == [
        "postgresql://a:1,b:2/s?target_session_attrs=any", "postgres://c/s"]
    assert "secret" not in got.store_location() and got.store_location() == "postgres:db:5432/search/semsearch"
    secret = Settings.load(store="postgres", postgres_url="postgresql://u:secret@db/search")
    assert "secret" not in secret.store_location()


def test_ocr_settings_reach_the_indexing_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMSEARCH_OCR_COMMAND", "/opt/tesseract/bin/tesseract")
    monkeypatch.setenv("SEMSEARCH_OCR_LANGUAGES", "deu+eng")
    monkeypatch.setenv("SEMSEARCH_OCR_MAX_PAGES", "7")
    limits = Settings.load(ocr_max_pixels=1000, ocr_page_seconds=2.5, ocr=False).limits()
    assert (limits.ocr, limits.ocr_command, limits.ocr_languages) == (False, "/opt/tesseract/bin/tesseract", "deu+eng")
    assert (limits.ocr_max_pixels, limits.ocr_max_pages, limits.ocr_page_seconds) == (1000, 7, 2.5)
    with pytest.raises(InvalidSettings, match="SEMSEARCH_OCR_LANGUAGES"):
        Settings.load(ocr_languages="deu; rm -rf /")
