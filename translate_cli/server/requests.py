"""The checks every request passes before it reaches the model, against the server's limits
(core/serving/limits.py).

Each failure is an ApiError: a status code and a one-line message that the app returns as
{"error": message}. Nothing here touches the model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from translate_cli.core.serving.limits import ServerLimits


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class TranslateRequest:
    texts: list[str]
    single: bool  # q was one string: answer with one string, not a list
    target: str
    source: str
    format: str = "text"  # or "html" (LibreTranslate's formats)


def parse_body(body: bytes, content_type: str) -> dict:
    """A JSON object, or a form (LibreTranslate clients send either); repeated form fields become lists."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = parse_qs(text, keep_blank_values=True)
        return {key: values[0] if len(values) == 1 else values for key, values in form.items()}
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # thousands of nested arrays: Python's parser gives up before finding an error
        raise ApiError(400, "invalid JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise ApiError(400, 'the body must be a JSON object such as {"q": "Hello", "target": "ja"}')
    return payload


def check_api_key(expected: str | None, payload: dict, authorization: str | None) -> None:
    """403 unless the request carries the key: "api_key" in the body (LibreTranslate) or a Bearer header."""
    if expected is None:
        return
    given = payload.get("api_key")
    if not given and authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    # Digests first: compare_digest then sees equal lengths, so the time taken reveals nothing of the key.
    matches = isinstance(given, str) and hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                                                            hashlib.sha256(expected.encode()).digest())
    if not matches:
        raise ApiError(403, "missing or wrong API key: send it as \"api_key\" in the body or as the header "
                            "'Authorization: Bearer KEY'")


def read_translate_request(payload: dict, limits: ServerLimits, source_lang: str,
                           target_langs: list[str]) -> TranslateRequest:
    texts, single = _read_q(payload.get("q"), "q" in payload, limits)
    target = _read_target(payload.get("target"), target_langs)
    source = payload.get("source") or "auto"
    if source not in ("auto", source_lang):
        raise ApiError(400, f"unknown source language {source!r}: this model translates from {source_lang!r} "
                            "(or send \"auto\")")
    text_format = payload.get("format") or "text"
    if text_format not in ("text", "html"):
        raise ApiError(400, f"format {text_format!r} is not supported; send \"format\": \"text\" or \"html\" "
                            "(other documents: POST /translate_file)")
    return TranslateRequest(texts, single, target, source, text_format)


def _read_q(q: object, present: bool, limits: ServerLimits) -> tuple[list[str], bool]:
    if not present or q is None:
        raise ApiError(400, 'missing "q": the text to translate, a string or a list of strings')
    single = isinstance(q, str)
    texts = [q] if single else q
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise ApiError(400, '"q" must be a string or a list of strings')
    if len(texts) > limits.max_strings:
        raise ApiError(400, f'"q" holds {len(texts)} strings; this server takes at most {limits.max_strings} '
                            "per request")
    for index, text in enumerate(texts):
        where = '"q"' if single else f'"q"[{index}]'
        if len(text) > limits.max_chars:
            raise ApiError(400, f"{where} has {len(text)} characters; this server takes at most "
                                f"{limits.max_chars} per string")
        try:  # JSON may spell a lone surrogate ("\ud800"), which is no text and no tokenizer takes
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ApiError(400, f"{where} holds invalid Unicode ({exc.reason} at character {exc.start})") from None
    return texts, single


def _read_target(target: object, target_langs: list[str]) -> str:
    if target is None or target == "":
        if len(target_langs) == 1:
            return target_langs[0]
        raise ApiError(400, f'missing "target": this model translates into {", ".join(target_langs)}')
    if target not in target_langs:
        raise ApiError(400, f"unknown target language {target!r}: this model translates into "
                            f"{', '.join(target_langs)}")
    return str(target)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over the limit, by its Content-Length or, when chunked, as it arrives."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_error(send, 400, "invalid Content-Length header")
                return
            if int(declared) > self.max_bytes:
                await _send_error(send, 413, self._message(int(declared)))
                return
        received, started = 0, False

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge()
            return message

        async def watching_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, self._message(received, "at least "))

    def _message(self, size: int, qualifier: str = "") -> str:
        return f"the request body ({qualifier}{size} bytes) is larger than this server's limit of {self.max_bytes} bytes"


class _TooLarge(Exception):
    pass


async def _send_error(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def read_file_request(form, source_lang: str, target_langs: list[str],
                      formats: dict[str, str]) -> tuple[str, str, str]:
    """(file name, target, format) of POST /translate_file: a multipart form with `file`, optional `target`,
    `source` and `format` (default: by the file's extension, from `formats`)."""
    upload = form.get("file")
    if upload is None or not hasattr(upload, "filename"):
        raise ApiError(400, 'missing "file": send the document as a multipart/form-data file field named "file"')
    name = re.sub(r"[^\w.-]+", "_", (upload.filename or "document").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:100]
    target = _read_target(form.get("target"), target_langs)
    source = form.get("source") or "auto"
    if source not in ("auto", source_lang):
        raise ApiError(400, f"unknown source language {source!r}: this model translates from {source_lang!r}")
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    chosen = form.get("format") or formats.get(suffix, "text")
    if chosen not in ("text", *formats.values()):
        raise ApiError(400, f"format {chosen!r} is not one of text, {', '.join(sorted(set(formats.values())))}")
    return name, target, chosen
