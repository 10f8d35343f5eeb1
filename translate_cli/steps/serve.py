"""tcli serve: a model behind HTTP (LibreTranslate API, /health, /info, /docs, a web page at /).

The HTTP front end lives in translate_cli/server/, the service and the batcher in core/serving/; this step
loads the model, prints where it listens and waits for Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path

from translate_cli import console
from translate_cli.core.decoding import DecodeOverrides
from translate_cli.core.serving.batcher import BatchSettings
from translate_cli.core.serving.limits import ServerLimits
from translate_cli.errors import TcliError

SERVE_MODULES = ("fastapi", "uvicorn", "swagger_ui_bundle", "python_multipart")


def run(model_dir: Path, *, host: str = "127.0.0.1", port: int = 5000, backend: str = "auto",
        quantize: str = "none", threads: int | None = None, decode: DecodeOverrides = DecodeOverrides(),
        batching: BatchSettings = BatchSettings(), limits: ServerLimits = ServerLimits(),
        access_log: bool = False, glossary: Path | None = None) -> None:
    """`decode` holds command-line decoding settings (None = the model's own)."""
    missing = [name for name in SERVE_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise TcliError(f"tcli serve needs the optional extra 'serve' ({', '.join(missing)} missing): "
                        "pip install -e \".[serve]\"")
    # Imported only now: they need the extra checked above.
    from translate_cli.core.ct2.backend import choose_backend, load_for_translation
    from translate_cli.core.documents.glossary import Glossary
    from translate_cli.core.serving.service import TranslationService
    from translate_cli.server.app import create_app
    from translate_cli.server.listener import Listener

    choice = choose_backend(model_dir, backend, quantize)
    if choice.note:
        console.warn(choice.note)
    loaded = load_for_translation(choice, quantize, threads)
    options = loaded.info.decode.updated(decode, nbest=1)
    terms = Glossary.read(glossary) if glossary is not None else None
    service = TranslationService(loaded, options, batching, choice.backend, terms)
    listener = Listener(create_app(service, limits), host, port, access_log=access_log,
                        log_level="info" if access_log else "warning")
    _announce(listener.url, model_dir, service, limits, host)
    listener.run_until_signal()
    console.info(f"stopped after {service.batcher.items_done:,} sentences in {service.batcher.batches:,} batches")


def _announce(url: str, model_dir: Path, service, limits, host: str) -> None:
    options, batching = service.options, service.batcher.settings
    batch = f"batching up to {batching.wait_ms:g} ms" if batching.enabled else "batching off"
    console.info(f"serving {model_dir} ({service.backend}, {service.source_lang}→{','.join(service.target_langs)}, "
                 f"beam {options.beam_size}, {batch}) on {url}")
    console.info(f"  POST {url}/translate (text, html) · POST /translate_file (documents) · GET /languages /health /info · OpenAPI page {url}/docs · web page {url}/")
    console.info(f"  limits: {limits.max_body_bytes:,} bytes per body, {limits.max_strings} strings per request, "
                 f"{limits.max_chars:,} characters per string, {batching.max_queue:,} sentences waiting; "
                 f"API key {'required' if limits.api_key else 'off'}; CORS "
                 f"{', '.join(limits.cors_origins) if limits.cors_origins else 'off'}")
    if not _is_loopback(host) and not limits.api_key:
        console.warn(f"listening on {host} without --api-key: anyone who can reach this machine can use the model")
    console.info("Ctrl-C or SIGTERM stops accepting requests, finishes those in flight and exits")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
