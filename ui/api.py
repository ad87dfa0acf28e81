"""The JSON API beside the chat page, on the same server (`rag serve`), documented by FastAPI's OpenAPI at /docs (its
Swagger UI served by this server: nothing loaded from a CDN).

Tools want one POST with named fields and the answer back as an object; the Gradio endpoints take positional
arguments and carry the answer as a string in an event stream. So /api/ask returns the `rag ask --json` object
itself, and /api/articles and /api/status give what the page's library and header show. The routes only call the
pipeline (uploads go through ui.uploads, the page's own checks), so the page, the CLI and the API answer alike.

Errors are {"error": "..."} with their status, never a traceback: 400 a bad field (the message names it), 401 a
missing or wrong token, 404 an unknown file, 409 a library change that cannot be made as it stands, 411 / 413 an
upload without a length or too big, 503 with Retry-After while there is no index yet or too many questions wait.
ui/guard.py's checks come first, as for the page: a foreign Host gets 400, a write from another site's page 403.

With RAG_API_TOKEN set, the routes that change the library need `Authorization: Bearer TOKEN`; with
RAG_API_AUTH_ALL=true every /api/ route does.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, TypeVar

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request, Response, Security
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from rag.config import Settings
from rag.index.index_keeper import IndexProgress, IndexStatus, Removal
from rag.index.removal import RemovalError, is_removed
from rag.index.store import IndexIncompatible, IndexMissing, IndexStoreError
from rag.pipeline import Pipeline, QuestionError
from rag.query.reader_model import ReaderModelError
from rag.query.request import AskRequest, RequestError
from rag.schema import Answer, Article
from ui.guard import ServerToken
from ui.uploads import UploadOutcome, add_uploads, safe_name

log = logging.getLogger(__name__)

PREFIX = "/api"
DOCS_URL = "/docs"
DOCS_ASSETS = f"{DOCS_URL}/assets"
# Swagger UI's script and styles as the fastapi-offline package ships them (the page's only assets).
SWAGGER_UI_FILES = Path(fastapi_offline.__file__).parent / "static"
OPENAPI_URL = f"{PREFIX}/openapi.json"
INDEXING_RETRY_S = 10  # Retry-After while the first index is built
BUSY_RETRY_S = 2  # Retry-After while too many questions wait
MAX_UPLOAD_FILES = 100
DESCRIPTION = (
    "Questions answered from the indexed news articles, the answer quoted from them with its citations (the `rag ask --json` "
    'object), and the library: list, add, remove and restore articles. Errors are {"error": "..."} with their status. '
    "With RAG_API_TOKEN set on the server, the library's changes need `Authorization: Bearer TOKEN` (every route with RAG_API_AUTH_ALL=true)."
)
# No index to answer from until the run started with the server ends: none yet, or one built with
# another model, chunking or precision, which that run rebuilds.
NO_INDEX_YET = (IndexMissing, IndexIncompatible)
NOT_INDEXED_YET = "the articles are still being indexed (GET /api/status shows how far); ask again in a moment"
ASK_FIELDS = tuple(AskRequest.model_fields)
T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="the server's RAG_API_TOKEN, when it has one")


class ApiError(Exception):
    """A request the API refuses: its status, the one-line reason, and headers such as Retry-After."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status, headers=self.headers)


class ApiRoute(APIRoute):
    """A route whose every failure is {"error": ...} with its status, Starlette's own (a multipart body it cannot
    parse) too, and a bug a 500 whose trace goes to the server's log, not to the client. The bodies are read by
    the routes themselves, so that a bad field is told in the pipeline's words (RequestError), not FastAPI's 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()
            except HTTPException as exc:  # Starlette's (FastAPI's is one): a multipart body it cannot parse
                return ApiError(exc.status_code, str(exc.detail), dict(exc.headers or {})).response()
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return ApiError(500, "the server failed on this request; its log has the details").response()

        return handle


class LibraryEntry(BaseModel):
    """An indexed article as the page's library lists it."""

    id: str
    title: str
    path: str
    published: str | None  # YYYY-MM-DD
    source: str | None
    byline: str | None

    @classmethod
    def of(cls, article: Article) -> LibraryEntry:
        published = article.published.isoformat() if article.published else None
        return cls(id=article.id, title=article.title, path=article.path, published=published, source=article.source, byline=article.byline)


class Uploaded(BaseModel):
    """What became of each uploaded file: where it was stored (None: not added), why some or all of it was left out."""

    files: list[UploadOutcome]


class LibraryChange(BaseModel):
    """A file removed from the library (kept, to be restored) or restored to it."""

    path: str
    titles: list[str]
    restored: bool
    summary: str
    undo: str | None  # the call that puts a removed file back

    @classmethod
    def of(cls, removal: Removal) -> LibraryChange:
        undo = None if removal.restored else f"POST {PREFIX}/articles/{removal.path}/restore"
        return cls(path=removal.path, titles=removal.titles, restored=removal.restored, summary=removal.summary(), undo=undo)


class ServerStatus(BaseModel):
    """Whether questions can be answered, from which index generation, and whether an index run is going on."""

    ready: bool  # an index answers questions (false until the first one is built)
    generation: str | None
    articles: int
    chunks: int
    updating: bool  # an index run (at start, an upload, a removal) is going on in this server
    progress: IndexProgress | None
    index: IndexStatus | None


class AskQueue:
    """Questions answered first come, first served by threads of their own (answering_threads), and a bound on those
    waiting (api_max_waiting): past it a question gets 503 with Retry-After at once. The threads are the API's alone:
    the pool Starlette runs the other routes' handlers in (40 threads) could make a question wait behind a burst of
    GET /api/status. Used from the server's event loop only."""

    def __init__(self, slots: int, waiting: int):
        self.answering = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="api-ask")  # its work queue is FIFO
        self.limit = slots + waiting
        self.queued = 0  # answered or waiting

    async def answer(self, work: Callable[[], T]) -> T:
        if self.queued >= self.limit:
            raise ApiError(503, f"{self.queued} questions are being answered or waiting; ask again in a moment", {"Retry-After": str(BUSY_RETRY_S)})
        self.queued += 1
        try:  # a caller that goes away while its question waits takes it out of the queue (the future is cancelled)
            return await asyncio.wrap_future(self.answering.submit(work))
        finally:
            self.queued -= 1


class Api:
    """The /api/ routes over one pipeline; mount() adds them to the server's FastAPI app.

    copies: a folder for an upload's files while they are checked (the server's upload-copies folder); ask: the
    page's ask (ui/app.py), so that the API's questions are checked and logged as the page's; upload_limit: the most
    bytes one upload may send, the page's too."""

    def __init__(self, pipeline: Pipeline, copies: Path, ask: Callable[..., Answer], upload_limit: int):
        self.pipeline, self.copies, self.asked, self.upload_limit = pipeline, copies, ask, upload_limit
        settings = pipeline.settings
        self.token = ServerToken(settings.api_token, settings.api_auth_all)
        self.queue = AskQueue(answering_threads(settings), settings.api_max_waiting)
        self.library_lock = threading.Lock()  # one library change at a time
        self.router = APIRouter(prefix=PREFIX, route_class=ApiRoute, tags=["news"])
        reads = [Security(self.authorise_read)]
        changes = [Security(self.authorise_change)]
        route = self.router.add_api_route
        route("/ask", self.ask, methods=["POST"], dependencies=reads, openapi_extra=_json_body("AskRequest"), response_class=JSONResponse)
        route("/articles", self.articles, methods=["GET"], dependencies=reads)
        route("/articles", self.upload, methods=["POST"], dependencies=changes, openapi_extra=_MULTIPART_BODY)
        route("/articles/{path:path}/restore", self.restore, methods=["POST"], dependencies=changes)
        route("/articles/{path:path}", self.remove, methods=["DELETE"], dependencies=changes)
        route("/status", self.status, methods=["GET"], dependencies=reads)

    def mount(self, app: FastAPI) -> None:
        """The routes added to the server's app (Gradio's, started by launch, with no docs page of FastAPI's own), its
        OpenAPI document made theirs alone (Gradio's own routes are internal to the page), and /docs."""
        app.include_router(self.router)
        document = self.openapi()
        app.openapi = lambda: document  # type: ignore[method-assign]  # FastAPI's way to replace the document ("Extending OpenAPI")
        app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI_FILES), name="docs-assets")
        app.add_api_route(DOCS_URL, docs_page, methods=["GET"], include_in_schema=False)

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document, the request body of /api/ask described by AskRequest itself."""
        document = get_openapi(title="Ask the news", version=version("rag-news"), description=DESCRIPTION, routes=self.router.routes)
        schema = AskRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(schema.pop("$defs", {}))
        schemas["AskRequest"] = schema
        return document

    # ---- the token ----------------------------------------------------------------------------------

    async def authorise_change(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
        """Library changes need the token, when the server has one."""
        self._check(credentials)

    async def authorise_read(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
        """Questions and reads need it only with RAG_API_AUTH_ALL."""
        if self.token.everything:
            self._check(credentials)

    def _check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        if not self.token.guards_changes:
            return
        if credentials is None:
            raise ApiError(401, "this route needs the server's token: send Authorization: Bearer <RAG_API_TOKEN>", {"WWW-Authenticate": "Bearer"})
        if not self.token.matches(credentials.credentials):
            raise ApiError(401, "the token is not the server's RAG_API_TOKEN", {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    # ---- the routes ---------------------------------------------------------------------------------

    async def ask(self, request: Request) -> JSONResponse:
        """Answer a question from the articles: the `rag ask --json` object (found, answer, span, score,
        citations, related). A follow-up sends the earlier turns as history, oldest first, each
        {"question", "answer": the span, "articles": the cited article ids}."""
        fields = await _json_object(request)
        answer = await self.queue.answer(partial(self._answer, fields))
        return JSONResponse(answer.contract())

    def _answer(self, fields: dict[str, Any]) -> Answer:
        try:
            return self.asked(self.pipeline, **fields)
        except (QuestionError, RequestError) as exc:
            raise ApiError(400, str(exc)) from exc
        except NO_INDEX_YET as exc:
            raise ApiError(503, NOT_INDEXED_YET, {"Retry-After": str(INDEXING_RETRY_S)}) from exc
        except IndexStoreError as exc:  # logged by ask(): the index cannot answer now (Milvus gone)
            raise ApiError(503, str(exc)) from exc
        except ReaderModelError as exc:
            raise ApiError(500, str(exc)) from exc

    def articles(self) -> list[LibraryEntry]:
        """The indexed articles, newest first (undated last), as the page's library lists them."""
        return [LibraryEntry.of(a) for a in self._library()]

    async def upload(self, request: Request) -> Uploaded:
        """Add articles: each file a multipart field named "files", checked as the page checks an upload, stored
        in the corpus's uploads/ folder and indexed before the reply."""
        settings = self.pipeline.settings
        length, ceiling = request.headers.get("content-length", ""), self.upload_limit
        if not length.isdigit():
            raise ApiError(411, "send the upload with a Content-Length header")
        if int(length) > ceiling:
            raise ApiError(413, f"the upload is {length} bytes; at most {ceiling} are taken at once, {settings.max_file_bytes} a file")
        async with request.form(max_files=MAX_UPLOAD_FILES, max_fields=MAX_UPLOAD_FILES) as form:
            files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
            if not files:
                raise ApiError(400, "files: send each file as a multipart field named 'files'")
            for file in files:
                if file.size is not None and file.size > settings.max_file_bytes:
                    raise ApiError(413, f"files: {file.filename!r} is {file.size} bytes; the limit is {settings.max_file_bytes} a file")
            with tempfile.TemporaryDirectory(dir=self.copies) as folder:
                paths = []
                for n, file in enumerate(files):  # a folder a file: two of one name stay two
                    path = Path(folder) / str(n) / safe_name(file.filename or "upload")
                    path.parent.mkdir()
                    path.write_bytes(await file.read())
                    paths.append(path)
                outcomes = await run_in_threadpool(self._add, paths)
        if not any(o.stored for o in outcomes):
            raise ApiError(400, "files: nothing was added: " + "; ".join(f"{o.name}: {', '.join(o.problems)}" for o in outcomes))
        return Uploaded(files=outcomes)

    def _add(self, paths: list[Path]) -> list[UploadOutcome]:
        with self.library_lock:
            outcomes, _ = add_uploads(self.pipeline, paths)
        log.info("uploaded through the API: %s", ", ".join(o.stored or f"{o.name} (refused)" for o in outcomes))
        return outcomes

    def remove(self, path: str) -> LibraryChange:
        """Remove a file's articles from the library. The file is kept in the corpus's .removed/ folder: POST
        /api/articles/{path}/restore puts it back."""
        with self.library_lock:
            if not any(a.path == path for a in self._library()):
                raise ApiError(404, f"no indexed article comes from the file '{path}': GET {PREFIX}/articles lists them")
            removal = self._changed(self.pipeline.remove, path)
        log.info("removed %s from the library", path)
        return LibraryChange.of(removal)

    def restore(self, path: str) -> LibraryChange:
        """Undo a removal: the file back in the corpus and its articles in the index."""
        with self.library_lock:
            # a path that climbs out of the corpus is never one: no probing for files outside it
            if ".." in PurePosixPath(path).parts or PurePosixPath(path).is_absolute() or not is_removed(self.pipeline.corpus, path):
                raise ApiError(404, f"no removed file '{path}' is kept to restore")
            restored = self._changed(self.pipeline.restore, path)
        log.info("restored %s to the library", path)
        return LibraryChange.of(restored)

    def _changed(self, change: Callable[[str], Removal], path: str) -> Removal:
        try:
            return change(path)
        except RemovalError as exc:  # the file cannot move, one of its name is back, the index cannot be updated
            raise ApiError(409, str(exc)) from exc
        except IndexStoreError as exc:
            raise ApiError(503, str(exc)) from exc

    def status(self) -> ServerStatus:
        """The index that answers (its generation, article and chunk counts) and an index run going on."""
        progress = self.pipeline.indexing
        try:
            generation, index = self.pipeline.loaded().generation, self.pipeline.status()
        except NO_INDEX_YET:
            return ServerStatus(ready=False, generation=None, articles=0, chunks=0, updating=progress is not None, progress=progress, index=None)
        return ServerStatus(
            ready=True, generation=generation, articles=index.articles, chunks=index.chunks, updating=progress is not None, progress=progress, index=index
        )

    def _library(self) -> list[Article]:
        try:
            return self.pipeline.articles()
        except NO_INDEX_YET as exc:
            raise ApiError(503, NOT_INDEXED_YET, {"Retry-After": str(INDEXING_RETRY_S)}) from exc


def answering_threads(settings: Settings) -> int:
    """The settings' api_concurrency, else as many questions as the networks run side by side (rag/runtime.py: one
    call of every core, or cores / runtime_threads calls of that many threads each)."""
    if settings.api_concurrency is not None:
        return settings.api_concurrency
    options = settings.runtime_options()
    return max(1, options.core_count() // options.threads) if options.threads else 1


def docs_page(request: Request) -> HTMLResponse:
    """FastAPI's Swagger UI page for the API, its script, styles and icon served by this server: FastAPI's own loads
    them from a CDN, and is blank where the server has no internet."""
    root = request.scope.get("root_path", "")  # behind a proxy that serves the app under a prefix
    return get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title="Ask the news: the JSON API",
        swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # else the page asks validator.swagger.io about the document
    )


async def _json_object(request: Request) -> dict[str, Any]:
    """The body's fields, JSON null as unset; 400 naming what is wrong with it."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, 'the request body must be a JSON object, e.g. {"question": "Who is the Foreign Ministry spokesperson?"}')
    unknown = sorted(set(body) - set(ASK_FIELDS))
    if unknown:
        raise ApiError(400, f"{unknown[0]}: no such field; the fields are {', '.join(ASK_FIELDS)}")
    fields = {name: value for name, value in body.items() if value is not None}
    if "question" not in fields:
        raise ApiError(400, "question: the field is missing")
    if not isinstance(fields.get("history", []), list):
        raise ApiError(400, "history: must be a list of the earlier turns, oldest first")
    return fields


def _json_body(schema: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["files"], "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}
            }
        },
    }
}
