"""`tcli import` refuses what it cannot convert with one line and exit code 2, never runs a pickle, and fetches
hub ids through huggingface_hub (tested against a local stand-in for the hub: no test contacts the real one)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
from conftest import one_line_error, run_cli
from safetensors.torch import load_file
from test_safe_loading import booby_trap

from translate_cli.core.checkpoint import load_model


def broken_copy(hf_models, tmp_path: Path, kind: str = "marian") -> Path:
    folder = tmp_path / f"broken-{kind}"
    shutil.copytree(hf_models.folder(kind), folder)
    return folder


def test_missing_or_corrupt_weights(hf_models, tmp_path):
    folder = broken_copy(hf_models, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "model.safetensors",
                   "not a readable safetensors file", "download it again")
    weights.unlink()
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), str(folder), "no weights")
    assert not (tmp_path / "out").exists()


def test_unknown_model_type_and_unreadable_config(hf_models, tmp_path):
    folder = broken_copy(hf_models, tmp_path)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2, "vocab_size": 50257}))
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "config.json", "'gpt2'",
                   "OPUS-MT", "M2M100")
    (folder / "config.json").write_text("{not json")
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "config.json", "not valid JSON")
    (folder / "config.json").unlink()
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "config.json", "missing")
    one_line_error(run_cli("import", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")), "nowhere")


def test_tokenizer_that_does_not_match_the_vocabulary(hf_models, tmp_path):
    folder = broken_copy(hf_models, tmp_path)
    shutil.copyfile(hf_models.folder("marian-mul") / "vocab.json", folder / "vocab.json")
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "vocab.json", "vocab_size",
                   "does not belong")
    nllb = broken_copy(hf_models, tmp_path, "nllb")
    shutil.copyfile(hf_models.folder("marian") / "source.spm", nllb / "sentencepiece.bpe.model")
    one_line_error(run_cli("import", str(nllb), "-o", str(tmp_path / "out")), "sentencepiece.bpe.model")


def test_pickled_weights_load_without_running_code(hf_models, tmp_path):
    folder = broken_copy(hf_models, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    booby_trap(folder / "pytorch_model.bin", marker)
    one_line_error(run_cli("import", str(folder), "-o", str(tmp_path / "out")), "pytorch_model.bin", "refused",
                   "model.safetensors")
    assert not marker.exists()
    torch.save(state, folder / "pytorch_model.bin")  # plain tensors: loads with weights_only
    assert run_cli("import", str(folder), "-o", str(tmp_path / "from-bin")).exit_code == 0
    from_bin = load_model(tmp_path / "from-bin").model.state_dict()
    reference = load_model(hf_models.imported("marian")).model.state_dict()
    assert from_bin.keys() == reference.keys() and all(from_bin[k].equal(reference[k]) for k in reference)


def test_output_folder_is_not_someone_elses(hf_models, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    one_line_error(run_cli("import", str(hf_models.folder("marian")), "-o", str(precious)), "refusing to replace")
    assert (precious / "notes.txt").read_text() == "mine"


def tcli_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return {**env, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


def run_import(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "translate_cli", "import", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600)


def test_hub_id_offline_is_one_line_asking_for_a_local_folder(tmp_path):
    result = run_import(["Helsinki-NLP/opus-mt-en-hi", "-o", "out"], tcli_env(tmp_path, HF_HUB_OFFLINE="1"), tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Helsinki-NLP/opus-mt-en-hi" in lines[0] and "local folder" in lines[0], lines
    unreachable = run_import(["Helsinki-NLP/opus-mt-en-hi", "-o", "out"],
                             tcli_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9"), tmp_path)
    assert unreachable.returncode == 2 and "local folder" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr


class FakeHub(BaseHTTPRequestHandler):
    """The few endpoints huggingface_hub's snapshot_download uses, serving one folder as one repository."""

    def __init__(self, repo: str, folder: Path, requested: list, *args, **kwargs):
        self.repo, self.folder, self.requested = repo, folder, requested
        self.files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}
        self.commit = "0123456789abcdef0123456789abcdef01234567"
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:
        pass

    def _send(self, body: bytes, content_type: str = "application/json", extra: dict | None = None) -> None:
        self.send_response(200)
        for key, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                           "X-Repo-Commit": self.commit, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _entry(self, name: str) -> dict:
        data = self.files[name].read_bytes()
        return {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith(f"/api/models/{self.repo}/revision/"):
            self._send(json.dumps({"id": self.repo, "sha": self.commit,
                                   "siblings": [{"rfilename": name} for name in self.files]}).encode())
        elif path.startswith(f"/api/models/{self.repo}/tree/"):
            self._send(json.dumps([self._entry(name) for name in self.files]).encode())
        elif path.startswith(f"/{self.repo}/resolve/") and path.rsplit("/", 1)[-1] in self.files:
            name = path.rsplit("/", 1)[-1]
            self.requested.append(name)
            self._send(self.files[name].read_bytes(), "application/octet-stream",
                       {"ETag": f'"{self._entry(name)["oid"]}"'})
        else:
            self.send_error(404)

    do_HEAD = do_GET


def test_hub_id_is_fetched_through_huggingface_hub(hf_models, tmp_path):
    requested: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(FakeHub, "tiny/opus-mt-en-hi", hf_models.folder("marian"),
                                                           requested))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = tcli_env(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
        result = run_import(["tiny/opus-mt-en-hi", "-o", "opus"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        server.shutdown()
    assert "model.safetensors" in requested and "source.spm" in requested
    fetched = load_model(tmp_path / "opus")
    assert fetched.info.training["imported_from"] == "tiny/opus-mt-en-hi"
    reference = load_model(hf_models.imported("marian")).model.state_dict()
    assert all(fetched.model.state_dict()[k].equal(v) for k, v in reference.items())
    # Once cached, the same import works offline.
    again = run_import(["tiny/opus-mt-en-hi", "-o", "again"], {**env, "HF_HUB_OFFLINE": "1"}, tmp_path)
    assert again.returncode == 0, again.stderr
