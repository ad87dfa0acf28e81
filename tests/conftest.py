"""Shared fixtures: the real packaged model, loaded once per session, on small corpora in tmp folders."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import pytest

# The library (rag/index/library.py) of every pipeline, CLI run and server the tests start: a folder of
# their own, never the user's data folder; removed when the session ends.
os.environ["RAG_DATA_DIR"] = tempfile.mkdtemp(prefix="rag-test-data-")
atexit.register(shutil.rmtree, os.environ["RAG_DATA_DIR"], ignore_errors=True)

from rag.config import Settings  # noqa: E402 (after RAG_DATA_DIR is set: the settings read it)
from rag.embedding import Encoder  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from tests.helpers import make_corpus, start_milvus_lite, write_bank_stories  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def encoder(settings) -> Encoder:
    return Encoder(settings.resolved_model_path(), settings.embed_batch_size)


@pytest.fixture(scope="session")
def news_pipeline(tmp_path_factory, settings, encoder) -> Pipeline:
    """The seed article plus two small ones in other formats, indexed once for the session."""
    corpus = make_corpus(tmp_path_factory.mktemp("news"))
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    pipeline.index()
    return pipeline


@pytest.fixture(scope="session")
def bank_pipeline(tmp_path_factory, settings, encoder) -> Pipeline:
    """The same Bank of England story on three days with three figures, from Example Wire, none with a
    byline or an update date: only the day a question names can tell them apart."""
    pipeline = Pipeline(settings, corpus=write_bank_stories(tmp_path_factory.mktemp("bank")), encoder=encoder)
    pipeline.index()
    return pipeline


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """The Milvus Lite server .ci/run started (MILVUS_LITE_URI); outside CI, one started here for the session.
    In CI a missing server fails the tests that need it: they never skip."""
    uri = os.environ.get("MILVUS_LITE_URI")
    if uri:
        yield uri
        return
    if os.environ.get("CI"):
        pytest.fail("CI runs the Milvus tests against the Milvus Lite server .ci/run starts: MILVUS_LITE_URI is not set")
    server, uri = start_milvus_lite(tmp_path_factory.mktemp("milvus-lite"))
    yield uri
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(params=["embedded", "milvus"])
def backend(request) -> dict:
    """Settings overrides for each store (rag/index/backend.py): a test that takes it runs on both, each in an index of its own."""
    if request.param == "embedded":
        return {"backend": "embedded"}
    uri = request.getfixturevalue("milvus_uri")
    return {"backend": "milvus", "milvus_uri": uri, "milvus_collection": f"test_{uuid.uuid4().hex[:12]}"}


@pytest.fixture
def fresh_pipeline(tmp_path, settings, encoder):
    """A factory for a pipeline over a new tmp corpus folder (not yet indexed)."""

    def build(extra: bool = True, **overrides) -> Pipeline:
        corpus = make_corpus(tmp_path / "corpus", extra=extra)
        return Pipeline(settings.model_copy(update=overrides), corpus=corpus, encoder=encoder)

    return build
