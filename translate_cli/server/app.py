"""The ASGI app of `tcli serve`: LibreTranslate's POST /translate and GET /languages, tcli's /health and
/info, the OpenAPI page at /docs (Swagger UI served from the swagger-ui-bundle package, no CDN), and a
small offline web page at /.

Errors are always JSON {"error": "one line"} with the status code that says what went wrong. The
model runs in the batcher's worker thread; handlers only await it.
"""

from __future__ import annotations

import asyncio
import inspect
from contextlib import asynccontextmanager
from importlib import resources
from typing import Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from translate_cli.core.documents.options import EXTENSIONS
from translate_cli.core.serving.batcher import Overloaded
from translate_cli.core.serving.limits import ServerLimits
from translate_cli.core.serving.service import TranslationService
from translate_cli.errors import TcliError
from translate_cli.server.requests import (
    ApiError,
    BodySizeLimit,
    check_api_key,
    parse_body,
    read_file_request,
    read_translate_request,
)


class TranslateBody(BaseModel):
    """POST /translate, as LibreTranslate clients send it (JSON or a form)."""

    q: Union[str, list[str]] = Field(description="the text: one string, or a list of strings")
    source: str = Field("auto", description='the model\'s source language, or "auto"')
    target: Optional[str] = Field(None, description="target language; optional for a single-target model")
    format: str = Field("text", description='"text" or "html" (tags kept, text and alt/title translated)')
    api_key: Optional[str] = Field(None, description="when the server was started with --api-key")


class TranslateAnswer(BaseModel):
    translatedText: Union[str, list[str]] = Field(description="one output per input string, in order")


class ErrorAnswer(BaseModel):
    error: str


ERRORS = {code: {"model": ErrorAnswer} for code in (400, 403, 413, 503)}
MEDIA_TYPES = {"markdown": "text/markdown", "html": "text/html", "srt": "application/x-subrip", "vtt": "text/vtt",
               "po": "text/x-gettext-translation"}


def create_app(service: TranslationService, limits: ServerLimits) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        service.batcher.start()
        try:
            yield
        finally:  # requests in flight have finished (uvicorn waits for them); end the worker off the loop
            await asyncio.to_thread(service.batcher.stop)

    app = FastAPI(title="tcli translation server", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="LibreTranslate-compatible machine translation with a tcli model.",
                  **_without_telemetry())
    _add_error_handlers(app)
    _add_docs(app)
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    if limits.cors_origins:  # added last: outermost, so even a 413 carries the CORS headers
        app.add_middleware(CORSMiddleware, allow_origins=limits.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])
    _add_routes(app, service, limits)
    return app


def _add_routes(app: FastAPI, service: TranslationService, limits: ServerLimits) -> None:
    page = resources.files("translate_cli.server").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def web_page() -> str:
        return page

    @app.get("/health", summary="Liveness and queue length")
    async def health() -> dict:
        return {"status": "ok", "waiting_sentences": service.batcher.waiting, "batches": service.batcher.batches,
                "sentences": service.batcher.items_done}

    @app.get("/info", summary="Model, languages, backend, decode settings and limits")
    async def info() -> dict:
        return service.info() | {"limits": limits.public()}

    @app.get("/languages", summary="LibreTranslate: languages and their targets")
    async def languages() -> list[dict]:
        return service.languages()

    _add_translate(app, service, limits)
    _add_translate_file(app, service, limits)


def _add_translate(app: FastAPI, service: TranslationService, limits: ServerLimits) -> None:
    @app.post("/translate", response_model=TranslateAnswer, responses=ERRORS,
              summary="LibreTranslate: translate a string or a list of strings",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": TranslateBody.model_json_schema()},
                  "application/x-www-form-urlencoded": {"schema": TranslateBody.model_json_schema()}}}})
    async def translate(request: Request) -> JSONResponse:
        # Parsed by hand, not by a pydantic parameter: every mistake gets its own clear 400 message.
        payload = parse_body(await request.body(), request.headers.get("content-type", ""))
        check_api_key(limits.api_key, payload, request.headers.get("authorization"))
        wanted = read_translate_request(payload, limits, service.source_lang, service.target_langs)
        if wanted.format == "html":
            outputs = await service.translate_documents(wanted.texts, "html", wanted.target, "q")
        else:
            outputs = await service.translate(wanted.texts, wanted.target)
        answer: dict = {"translatedText": outputs[0] if wanted.single else outputs}
        if wanted.source == "auto":  # LibreTranslate reports what it detected; a tcli model has one source
            answer["detectedLanguage"] = {"language": service.source_lang, "confidence": 100}
        return JSONResponse(answer)


def _add_translate_file(app: FastAPI, service: TranslationService, limits: ServerLimits) -> None:
    @app.post("/translate_file", responses=ERRORS, response_class=Response,
              summary="Translate a document (Markdown, HTML, SRT, WebVTT, gettext PO or text); the file comes back")
    async def translate_file(request: Request) -> Response:
        # The upload is read into memory (the body limit bounds it) and never written where a request could
        # name the path: its file name only chooses the format and names the download.
        try:
            form = await request.form(max_files=1, max_fields=8)
        except Exception as exc:  # not multipart, or a malformed one
            raise ApiError(400, f"expected a multipart/form-data upload with a field \"file\" ({exc})") from None
        check_api_key(limits.api_key, {"api_key": form.get("api_key")}, request.headers.get("authorization"))
        name, target, format = read_file_request(form, service.source_lang, service.target_langs, EXTENSIONS)
        data = await form["file"].read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"{name}: not UTF-8 text (byte {exc.start}); upload a UTF-8 file") from None
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n") if crlf else text
        if format == "text":
            translated = "\n".join(await service.translate(text.split("\n"), target))
        else:
            translated = (await service.translate_documents([text], format, target, name))[0]
        stem, dot, suffix = name.rpartition(".")
        download = f"{stem}.{target}.{suffix}" if dot else f"{name}.{target}"
        body = (translated.replace("\n", "\r\n") if crlf else translated).encode("utf-8")
        return Response(body, media_type=MEDIA_TYPES.get(format, "text/plain") + "; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{download}"'})


def _add_error_handlers(app: FastAPI) -> None:
    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(TcliError)
    async def bad_document(_request: Request, exc: TcliError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(Overloaded)
    async def overloaded(_request: Request, exc: Overloaded) -> JSONResponse:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def failed(_request: Request, exc: Exception) -> JSONResponse:
        # The batcher logged the traceback; the client gets one line.
        return error(500, f"translation failed: {type(exc).__name__}: {str(exc)[:200]}")


def _add_docs(app: FastAPI) -> None:
    """Swagger UI from the installed swagger-ui-bundle package: the OpenAPI page works offline."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # Relative URLs: the page also works behind a reverse proxy that serves tcli under a path prefix.
        return get_swagger_ui_html(openapi_url="openapi.json", title="tcli serve: API",
                                   swagger_js_url="docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="docs/assets/swagger-ui.css",
                                   swagger_favicon_url="docs/assets/favicon-32x32.png")


def _without_telemetry() -> dict:
    """Newer FastAPI records OpenTelemetry spans for every request; a translation server has no use for them."""
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    return {}
