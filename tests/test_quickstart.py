"""The README's quickstart command, with a reduced step budget, through the CLI and offline."""

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quickstart_runs_end_to_end(tmp_path):
    work = tmp_path / "quickstart"
    env = {**os.environ, "TCLI_WORK_DIR": str(work)}
    result = subprocess.run(["bash", "scripts/quickstart.sh", "train.max_steps=60", "train.eval_every=30",
                             "train.eval_sentences=20", "train.max_minutes=3"],
                            cwd=REPO, env=env, text=True, capture_output=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "English → hi" in result.stdout and "English → ja" in result.stdout
    for lang in ("hi", "ja"):
        report = json.loads((work / f"test-scores.{lang}.json").read_text())
        assert report["sentences"] == 170 and report["lang"] == lang
    assert "ja-mecab" in json.loads((work / "test-scores.ja.json").read_text())["bleu_signature"]
    assert (work / "best" / "model.json").is_file()
