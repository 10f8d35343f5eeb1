"""tcli serve against a real server on a free loopback port: the API, every limit and error, the key, CORS,
overload, and (through the CLI in a subprocess) the default address and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import run_cli
from servers import call, call_multipart, make_app, running

from translate_cli.core.checkpoint import load_model
from translate_cli.core.translator import Translator

FIXTURES = Path(__file__).parent / "fixtures" / "documents"

SENTENCES = ["Where is the station?", "I like green tea.", "The train leaves at 7:45.", "Thank you very much.",
             "Is this seat free?", "My brother lives in Osaka.", "Please speak more slowly.", "It is raining."]


@pytest.fixture(scope="module")
def loaded(single_model_dir):
    return load_model(single_model_dir)


@pytest.fixture(scope="module")
def expected(loaded):
    """What Translator gives each sentence alone: the server must give the same in any batch."""
    translator = Translator(loaded)
    return lambda line: translator.translate([line], loaded.info.decode)[0].text


@pytest.fixture(scope="module")
def server(loaded):
    """A server with small limits, shared by the tests that only read from it."""
    app, _ = make_app(loaded, max_body_bytes=400, max_strings=3, max_chars=40)
    with running(app) as listener:
        yield listener.port


def test_translate_a_string_or_a_list_one_output_per_input_in_order(server, expected):
    reply = call(server, "POST", "/translate", {"q": "Where is the station?", "source": "en", "target": "ja",
                                                 "format": "text"})
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json == {"translatedText": expected("Where is the station?")}
    strings = ["It is raining.", "", "I like green tea.\nThank you very much."]
    reply = call(server, "POST", "/translate", {"q": strings, "target": "ja"})
    assert reply.json["translatedText"] == [expected("It is raining."), "",
                                            expected("I like green tea.") + "\n" + expected("Thank you very much.")]
    assert reply.json["detectedLanguage"] == {"language": "en", "confidence": 100}  # source defaults to auto
    form = call(server, "POST", "/translate", "q=Is+this+seat+free%3F&source=en&target=ja",
                {"Content-Type": "application/x-www-form-urlencoded"})
    assert form.json == {"translatedText": expected("Is this seat free?")}
    assert call(server, "POST", "/translate", {"q": []}).json["translatedText"] == []
    # Like tcli translate, a line of two sentences is translated sentence by sentence (joined with no space: ja).
    reply = call(server, "POST", "/translate", {"q": "I like green tea. It is raining.", "target": "ja"})
    assert reply.json["translatedText"] == expected("I like green tea.") + expected("It is raining.")


@pytest.mark.parametrize("beam_size", [1, 2])
def test_concurrent_requests_each_get_exactly_their_own_translations(loaded, beam_size):
    """Batches of the server's making (merged requests) give each sentence what it gets alone."""
    options = loaded.info.decode.updated(beam_size=beam_size)
    translator = Translator(loaded)
    alone = {line: translator.translate([line], options)[0].text for line in SENTENCES}
    app, service = make_app(loaded, options, batching={"wait_ms": 30})
    requests = [[SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 4)] for i in range(24)]
    with running(app) as listener:
        with ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(lambda q: call(listener.port, "POST", "/translate", {"q": q}), requests))
    assert [reply.json["translatedText"] for reply in replies] == [[alone[s] for s in q] for q in requests]
    assert service.batcher.items_done == sum(map(len, requests))


def test_languages_health_info_openapi_docs_and_page(server, loaded):
    assert call(server, "GET", "/languages").json == [{"code": "en", "name": "English", "targets": ["ja"]},
                                                      {"code": "ja", "name": "Japanese", "targets": []}]
    assert call(server, "GET", "/health").json["status"] == "ok"
    info = call(server, "GET", "/info").json
    assert info["backend"] == "native" and info["source"] == "en" and info["targets"] == ["ja"]
    assert info["decode"]["beam_size"] == loaded.info.decode.beam_size
    assert info["limits"] == {"max_body_bytes": 400, "max_strings": 3, "max_chars": 40, "api_key_required": False,
                              "cors_origins": []}
    schema = call(server, "GET", "/openapi.json").json
    assert {"/translate", "/languages", "/health", "/info"} <= set(schema["paths"])
    docs = call(server, "GET", "/docs").body.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert assets and all(asset.startswith("docs/assets/") for asset in assets), assets  # nothing from a CDN
    assert all(call(server, "GET", "/" + asset).status == 200 for asset in assets)
    page = call(server, "GET", "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "<textarea" in page.body.decode() and not re.search(r'(?:src|href)="(?:https?:)?//', page.body.decode())


@pytest.mark.parametrize("body, status, message", [
    (b"{\"q\": ", 400, "invalid JSON"),
    (b"[\"q\"]", 400, "must be a JSON object"),
    (b"\xff\xfe", 400, "not valid UTF-8"),
    ({"target": "ja"}, 400, 'missing "q"'),
    ({"q": None}, 400, 'missing "q"'),
    ({"q": 3}, 400, "a string or a list of strings"),
    ({"q": ["ok", 3]}, 400, "a string or a list of strings"),
    ({"q": "hi", "target": "fr"}, 400, "unknown target language 'fr'"),
    ({"q": "hi", "source": "de"}, 400, "unknown source language 'de'"),
    ({"q": "hi", "format": "markdown"}, 400, "format 'markdown' is not supported"),
    ({"q": "<p>fine</p></span>", "format": "html"}, 400, "q:1: </span> closes no open element"),
    ({"q": ["a", "b", "c", "d"]}, 400, "holds 4 strings; this server takes at most 3"),
    ({"q": "x" * 41}, 400, '"q" has 41 characters; this server takes at most 40'),
    ({"q": ["ok", "y" * 41]}, 400, '"q"[1] has 41 characters'),
    (b'{"q": ["ok", "a\\ud800b"]}', 400, '"q"[1] holds invalid Unicode (surrogates not allowed at character 1)'),
    ({"q": ["z" * 30] * 3, "pad": "p" * 300}, 413, "larger than this server's limit of 400 bytes"),
])
def test_every_bad_request_gets_its_status_and_a_one_line_json_error(server, body, status, message):
    reply = call(server, "POST", "/translate", body, {"Content-Type": "application/json"})
    assert reply.status == status, reply.body
    assert message in reply.json["error"] and "\n" not in reply.json["error"]


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(server):
    reply = call(server, "POST", "/translate", b'{"q": "' + b"a" * 600 + b'"}', {"Content-Type": "application/json"},
                 chunked=True)
    assert reply.status == 413 and "at least" in reply.json["error"]
    small = call(server, "POST", "/translate", {"q": "It is raining."}, chunked=True)
    assert small.status == 200


def test_deeply_nested_json_is_a_400_not_a_500(loaded):
    app, _ = make_app(loaded)
    with running(app) as listener:
        reply = call(listener.port, "POST", "/translate", b"[" * 10_000, {"Content-Type": "application/json"})
    assert reply.status == 400 and reply.json == {"error": "invalid JSON: nested too deeply"}


def test_html_and_uploaded_documents_keep_their_structure(loaded, tmp_path):
    from translate_cli.core.documents import html, markdown

    app, _ = make_app(loaded)
    page = (FIXTURES / "page.html").read_text(encoding="utf-8")
    guide = (FIXTURES / "guide.md").read_text(encoding="utf-8")
    with running(app) as listener:
        answer = call(listener.port, "POST", "/translate", {"q": [page, "<b>Hello</b> world"], "format": "html"})
        upload = call_multipart(listener.port, "/translate_file", {"target": "ja"}, "guide.md", guide.encode())
        bad = call_multipart(listener.port, "/translate_file", {}, "broken.html", b"<p>x</p>\n</span>")
        binary = call_multipart(listener.port, "/translate_file", {}, "x.txt", b"\xff\xfe")
        missing = call(listener.port, "POST", "/translate_file", {"q": "x"})
    assert answer.status == 200, answer.body
    assert html.structure(answer.json["translatedText"][0]) == html.structure(page)
    assert answer.json["translatedText"][1].count("<b>") == 1
    assert upload.status == 200 and 'filename="guide.ja.md"' in upload.headers["content-disposition"]
    assert markdown.structure(upload.body.decode()) == markdown.structure(guide)
    assert bad.status == 400 and "broken.html:2:" in bad.json["error"]
    assert binary.status == 400 and "UTF-8" in binary.json["error"]
    assert missing.status == 400 and "multipart" in missing.json["error"]


def test_unknown_paths_and_methods_answer_json_errors(server):
    assert call(server, "GET", "/nowhere").json == {"error": "Not Found"}
    assert call(server, "GET", "/translate").status == 405


def test_a_missing_target_is_an_error_only_for_a_model_with_several_targets(multi_model_dir):
    app, _ = make_app(load_model(multi_model_dir))
    with running(app) as listener:
        reply = call(listener.port, "POST", "/translate", {"q": "Hello."})
        assert reply.status == 400 and "missing \"target\": this model translates into hi, ja" in reply.json["error"]
        assert call(listener.port, "POST", "/translate", {"q": "Hello.", "target": "hi"}).status == 200


def test_api_key_is_required_on_translate_in_the_body_or_as_a_bearer_token(loaded):
    app, _ = make_app(loaded, api_key="s3cret")
    with running(app) as listener:
        port = listener.port
        for body, headers in [({"q": "Hi."}, {}), ({"q": "Hi.", "api_key": "wrong"}, {}),
                              ({"q": "Hi.", "api_key": 5}, {}), ({"q": "Hi."}, {"Authorization": "Bearer s3cre"})]:
            reply = call(port, "POST", "/translate", body, headers)
            assert reply.status == 403 and "API key" in reply.json["error"]
        assert call(port, "POST", "/translate", {"q": "Hi.", "api_key": "s3cret"}).status == 200
        assert call(port, "POST", "/translate", {"q": "Hi."}, {"Authorization": "Bearer s3cret"}).status == 200
        assert call(port, "GET", "/health").status == 200
        assert call(port, "GET", "/info").json["limits"]["api_key_required"] is True


def test_cors_is_off_by_default_and_on_for_the_origins_given(server, loaded):
    preflight = {"Origin": "http://example.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    assert "access-control-allow-origin" not in call(server, "OPTIONS", "/translate", None, preflight).headers
    assert "access-control-allow-origin" not in call(server, "GET", "/languages", None,
                                                     {"Origin": "http://example.org"}).headers
    app, _ = make_app(loaded, cors_origins=["http://example.org"])
    with running(app) as listener:
        allowed = call(listener.port, "OPTIONS", "/translate", None, preflight)
        assert allowed.status == 200 and allowed.headers["access-control-allow-origin"] == "http://example.org"
        other = call(listener.port, "OPTIONS", "/translate", None, preflight | {"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_overload_answers_503_with_retry_after_and_queued_requests_still_finish(loaded, expected):
    app, service = make_app(loaded, batching={"wait_ms": 0, "max_queue": 2})
    decoding, gate = threading.Event(), threading.Event()
    translate = service.batcher.run

    def slow_model(items):  # the first batch holds the worker until the test has filled the queue
        decoding.set()
        assert gate.wait(60)
        return translate(items)

    service.batcher.run = slow_model
    with running(app) as listener, ThreadPoolExecutor(2) as pool:
        port = listener.port
        first = pool.submit(call, port, "POST", "/translate", {"q": "It is raining."})
        assert decoding.wait(60)
        queued = pool.submit(call, port, "POST", "/translate", {"q": ["I like green tea.", "Is this seat free?"]})
        deadline = time.monotonic() + 300
        while call(port, "GET", "/health").json["waiting_sentences"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = call(port, "POST", "/translate", {"q": "Thank you very much."})
        gate.set()
        assert refused.status == 503 and int(refused.headers["retry-after"]) >= 1
        assert "server busy" in refused.json["error"]
        assert first.result().json["translatedText"] == expected("It is raining.")
        assert queued.result().json["translatedText"] == [expected("I like green tea."), expected("Is this seat free?")]


def test_port_in_use_is_a_clear_error():
    from translate_cli.errors import TcliError
    from translate_cli.server.listener import bind

    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(TcliError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*choose another --port"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_a_missing_serve_extra_names_the_extra(monkeypatch, single_model_dir):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else
                        real_find_spec(name, *a))
    result = run_cli("serve", str(single_model_dir))
    assert result.exit_code == 2 and 'pip install -e ".[serve]"' in result.output.replace("\n", "")


def test_cli_help_imports_neither_torch_nor_the_server_stack():
    code = ("import sys, translate_cli.cli; loaded = {'torch', 'fastapi', 'uvicorn'} & set(sys.modules); "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_listens_on_loopback_and_a_signal_finishes_requests_in_flight_then_exits_0(single_model_dir, expected,
                                                                                          stop_signal):
    # A 5-second batching window keeps the request queued, so in flight, when the signal comes.
    process = subprocess.Popen([sys.executable, "-m", "translate_cli", "serve", str(single_model_dir), "--port", "0",
                                "--batch-wait-ms", "5000"], stderr=subprocess.PIPE, text=True)
    try:
        port = _announced_port(process)
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(call, port, "POST", "/translate", {"q": ["It is raining.", ""]})
            deadline = time.monotonic() + 300
            while call(port, "GET", "/health").json["waiting_sentences"] < 2:
                assert time.monotonic() < deadline and not in_flight.done(), "the request was never seen queued"
                time.sleep(0.01)
            process.send_signal(stop_signal)
            reply = in_flight.result(timeout=300)
        assert reply.status == 200 and reply.json["translatedText"] == [expected("It is raining."), ""]
        assert process.wait(timeout=300) == 0
        assert "stopped after 2 sentences in 1 batches" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _announced_port(process: subprocess.Popen) -> int:
    """The port from `serving ... on http://127.0.0.1:PORT` (the default address is loopback)."""
    for line in process.stderr:
        found = re.search(r" on http://127\.0\.0\.1:(\d+)$", line.strip())
        if found:
            return int(found.group(1))
    raise AssertionError(f"tcli serve exited ({process.wait()}) without announcing its address")
