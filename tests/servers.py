"""Helpers for tests against a real `tcli serve` app: uvicorn on a free loopback port, plain HTTP requests."""

from __future__ import annotations

import http.client
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def make_app(loaded, options=None, batching: dict | None = None, **limits):
    """A fresh service (its own batcher) and app over an already loaded model."""
    from translate_cli.core.serving.batcher import BatchSettings
    from translate_cli.core.serving.limits import ServerLimits
    from translate_cli.core.serving.service import TranslationService
    from translate_cli.server.app import create_app

    service = TranslationService(loaded, options or loaded.info.decode, BatchSettings(**(batching or {})), "native")
    return create_app(service, ServerLimits(**limits)), service


@contextmanager
def running(app) -> Iterator:
    """The app served on 127.0.0.1, port chosen by the OS; stopped (gracefully) on exit."""
    from translate_cli.server.listener import Listener

    listener = Listener(app, "127.0.0.1", 0)
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()
        assert listener.join(300), "the server did not stop within 300 s"


def call(port: int, method: str, path: str, body: object = None, headers: dict | None = None,
         chunked: bool = False) -> Reply:
    """One request on a new connection; a dict or list body is sent as JSON."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            connection.request(method, path, body=iter([body]), headers=headers, encode_chunked=True)
        else:
            connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def call_multipart(port: int, path: str, fields: dict[str, str], filename: str, content: bytes) -> Reply:
    """A multipart/form-data POST with text fields and one file field named "file"."""
    boundary = "tcli-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return call(port, "POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
