"""tcli evaluate as a CI gate, on real data and real sacreBLEU: chrF++, confidence intervals, paired
significance against a baseline report, every test set of a config, JUnit and Markdown reports.

The proof uses two checkpoints of the one e2e training run (conftest.e2e_project): its first kept
checkpoint (step 100) and its best model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from conftest import REPO, one_line_error, run_cli
from safetensors.torch import load_file

CI_DOC = REPO / "docs" / "ci.md"


@pytest.fixture(scope="module")
def run(e2e_project: Path) -> dict:
    """The e2e run's step-100 checkpoint as a model directory, and both models' --config reports."""
    from translate_cli.core.checkpoint import read_info, save_model
    from translate_cli.core.model import Seq2SeqTransformer
    from translate_cli.core.train.run_dir import list_checkpoints

    folder = e2e_project / "runs" / "e2e"
    step, weights = list_checkpoints(folder)[0]
    info = read_info(folder / "last")
    model = Seq2SeqTransformer(info.model)
    model.load_state_dict(load_file(str(weights)))
    info.training = {**info.training, "step": step}
    save_model(e2e_project / "early", info, model, folder / "last" / "spm.model")
    models = {"early": e2e_project / "early", "late": folder / "best"}
    data_root = f"data_root={e2e_project / 'data'}"
    for name, model_dir in models.items():
        result = run_cli("evaluate", str(model_dir), "--config", str(e2e_project / "c.yaml"), "--override", data_root,
                         "--json", str(e2e_project / f"{name}.json"))
        assert result.exit_code == 0, result.output
        report = json.loads((e2e_project / f"{name}.json").read_text(encoding="utf-8"))
        (e2e_project / f"{name}.ja").write_text("\n".join(report["sets"]["tanaka/test.ja"]["hypotheses"]) + "\n",
                                                encoding="utf-8")
    return {"root": e2e_project, "ref": str(e2e_project / "data" / "tanaka" / "test.ja"), **models}


def compare(run: dict, new: str, baseline: str, *options: str):
    root = run["root"]
    return run_cli("evaluate", "--hyp", str(root / f"{new}.ja"), "--ref", run["ref"], "--to", "ja",
                   "--baseline", str(root / f"{baseline}.json"), *options)


def test_later_checkpoint_is_significantly_better_and_the_reverse_fails_the_gate(run, tmp_path):
    better = compare(run, "late", "early", "--fail-if-worse", "0", "--json", str(tmp_path / "better.json"))
    assert better.exit_code == 0, better.output
    comparison = json.loads((tmp_path / "better.json").read_text())["comparison"]
    assert comparison["method"] == "bs" and comparison["seed"] == 12345
    for metric in ("bleu", "chrf", "chrfpp"):
        c = comparison["metrics"][metric]
        assert c["delta"] > 0 and c["p_value"] < 0.05, (metric, c)
        assert c["new"] - c["baseline"] == pytest.approx(c["delta"], abs=0.011)
        assert c["new_ci"] > 0 and c["baseline_ci"] > 0

    junit, markdown = tmp_path / "j.xml", tmp_path / "m.md"
    worse = compare(run, "early", "late", "--fail-if-worse", "0", "--junit", str(junit), "--markdown", str(markdown))
    assert worse.exit_code == 1, worse.output
    assert "significantly worse" in worse.stderr and "FAIL" in worse.stdout
    root = ElementTree.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert [case.get("name").split()[0] for case in cases] == ["BLEU", "chrF", "chrF++"]
    assert all(case.find("failure") is not None for case in cases) and root.get("failures") == "3"
    assert markdown.read_text().startswith("### tcli evaluate: **failed**")

    # The margin matters: a loss smaller than it passes even when significant.
    lenient = compare(run, "early", "late", "--fail-if-worse", "100", "--significance", "ar")
    assert lenient.exit_code == 0, lenient.output


@pytest.mark.parametrize("method", ["bs", "ar"])
def test_a_model_compared_with_itself_is_never_significant(run, tmp_path, method):
    same = compare(run, "late", "late", "--fail-if-worse", "0", "--significance", method,
                   "--json", str(tmp_path / "same.json"))
    assert same.exit_code == 0, same.output
    metrics = json.loads((tmp_path / "same.json").read_text())["comparison"]["metrics"]
    assert all(c["delta"] == 0 and c["p_value"] == 1.0 for c in metrics.values()), metrics


def test_the_sacrebleu_quirks_tcli_works_around():
    """Canaries: if sacreBLEU changes either behaviour, the workaround named here can go.
    1. Its paired bootstrap calls identical systems significant (it counts only strictly larger differences):
       core/evaluate/significance.py reports p = 1 for equal scores.
    2. corpus_score(n_bootstrap=...) raises TypeError on chrF when some resamples score exactly 0:
       core/metrics.py summarises the same resamples with sacrebleu.significance.estimate_ci."""
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    hypotheses = ["the cat sat on the mat", "a dog", "hello there", "good morning"]
    references = ["the cat is on the mat", "the dog", "hello", "good evening"]
    _, results = PairedTest([("a", hypotheses), ("b", hypotheses)], {"chrF": CHRF()}, [references], "bs")()
    assert results["chrF2"][1].p_value < 0.05
    with pytest.raises(TypeError):
        CHRF().corpus_score([""] * 29 + ["the cat"], [references * 7 + references[:2]], n_bootstrap=100)


def test_baselines_of_other_references_or_lengths_give_one_line_and_exit_2(run, tmp_path):
    root = run["root"]
    hypotheses = (root / "late.ja").read_text(encoding="utf-8").splitlines()
    (tmp_path / "short.ja").write_text("\n".join(hypotheses[:-1]) + "\n", encoding="utf-8")
    missing = run_cli("evaluate", "--hyp", str(tmp_path / "short.ja"), "--ref", run["ref"], "--to", "ja",
                      "--baseline", str(root / "early.json"))
    one_line_error(missing, "short.ja has 199 lines", "test.ja has 200")
    short_baseline = run_cli("evaluate", "--hyp", str(root / "late.ja"), "--ref", run["ref"], "--to", "ja",
                             "--baseline-hyp", str(tmp_path / "short.ja"), "--fail-if-worse", "0")
    one_line_error(short_baseline, "199 hypothesis lines", "same reference")

    references = Path(run["ref"]).read_text(encoding="utf-8").splitlines()
    (tmp_path / "other.ja").write_text("\n".join(["違う文です。"] + references[1:]) + "\n", encoding="utf-8")
    other = run_cli("evaluate", "--hyp", str(root / "late.ja"), "--ref", str(tmp_path / "other.ja"), "--to", "ja",
                    "--baseline", str(root / "early.json"))
    one_line_error(other, "early.json", "different reference", "other.ja")

    report = json.loads((root / "early.json").read_text(encoding="utf-8"))
    report["sets"]["tanaka/test.ja"]["hypotheses"][0] += "!"
    (tmp_path / "edited.json").write_text(json.dumps(report), encoding="utf-8")
    one_line_error(run_cli("evaluate", "--hyp", str(root / "late.ja"), "--ref", run["ref"], "--to", "ja",
                           "--baseline", str(tmp_path / "edited.json")), "edited or damaged")
    (tmp_path / "old.json").write_text(json.dumps({"bleu": 20.0, "chrf": 40.0}), encoding="utf-8")
    one_line_error(run_cli("evaluate", "--hyp", str(root / "late.ja"), "--ref", run["ref"], "--to", "ja",
                           "--baseline", str(tmp_path / "old.json")), "older tcli")


def gate_block() -> str:
    """The plain-shell gate of docs/ci.md: the first bash block after its 'gate block: tested' marker."""
    text = CI_DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- gate block: tested -->\s*```bash\n(.*?)```", text, re.S)
    assert match, "docs/ci.md lost its tested gate block"
    return match.group(1)


def test_the_documented_shell_gate_fails_a_regression(run):
    """docs/ci.md's plain-shell gate, run as written: the early checkpoint against the later one's report."""
    root = run["root"]
    env = {**os.environ, "MODEL": str(run["early"]), "CONFIG": "c.yaml", "BASELINE": str(root / "late.json")}
    done = subprocess.run(["bash", "-c", gate_block()], cwd=root, env=env, text=True, capture_output=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate failed: tanaka/test.ja" in done.stderr
    suite = ElementTree.parse(root / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == "tanaka/test.ja" and int(suite.get("failures")) >= 1
    report = json.loads((root / "reports" / "evaluation.json").read_text())
    assert report["passed"] is False and not report["sets"]["tanaka/test.ja"]["passed"]
    assert "| tanaka/test.ja |" in (root / "reports" / "summary.md").read_text()


MULTI_CONFIG = """\
# evaluate test config: tcli evaluate MODEL --config c.yaml
name: multi
target_langs: [hi, ja]
data_root: {root}
data:
  train: [{{prefix: train, lang: hi}}]
  test: [{{prefix: test, lang: hi}}, {{prefix: test, lang: ja}}]
"""


def test_config_scores_every_test_set_in_one_table_json_and_junit(multi_model_dir, single_model_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(MULTI_CONFIG.format(root=REPO / "data" / "sample"), encoding="utf-8")
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    result = run_cli("evaluate", str(multi_model_dir), "--config", str(config), "--min-chrf", "0", "--min-bleu", "99",
                     "--confidence", "--json", str(report), "--junit", str(junit), "-b", "1")
    assert result.exit_code == 1, result.output  # an untrained model is below BLEU 99 on both sets
    assert "test.hi" in result.stdout and "test.ja" in result.stdout and "±" in result.stdout
    assert result.stderr.count("below threshold") == 2
    sets = json.loads(report.read_text())["sets"]
    assert list(sets) == ["test.hi", "test.ja"]
    assert sets["test.hi"]["lang"] == "hi" and "ja-mecab" in sets["test.ja"]["bleu_signature"]
    assert all(s["sentences"] == 170 and set(s["confidence"]) == {"bleu", "chrf", "chrfpp"} for s in sets.values())
    suites = ElementTree.parse(junit).getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["test.hi", "test.ja"]
    assert [len(suite.findall("testcase")) for suite in suites] == [2, 2]
    assert [len(suite.findall("testcase/failure")) for suite in suites] == [1, 1]

    again = run_cli("evaluate", str(multi_model_dir), "--config", str(config), "--baseline", str(report),
                    "--fail-if-worse", "0", "-b", "1")
    assert again.exit_code == 0, again.output  # the same model again: identical, never significant
    one_line_error(run_cli("evaluate", str(single_model_dir), "--config", str(config)), "not trained", "'hi'")


@pytest.mark.parametrize("args, fragment", [
    (["--hyp", "h", "--ref", "r", "--to", "ja", "--fail-if-worse", "0"], "--fail-if-worse compares with a baseline"),
    (["m", "--config", "c.yaml", "--ref", "r"], "drop --ref"),
    (["m", "--config", "c.yaml", "--baseline-hyp", "b"], "use --baseline REPORT.json"),
    (["--hyp", "h", "--ref", "r", "--override", "a=1"], "--override changes a --config"),
    (["--hyp", "h", "--ref", "r", "--baseline", "b", "--baseline-hyp", "b"], "choose one"),
    (["--hyp", "h", "--ref", "r", "--baseline", "b", "--fail-if-worse", "0", "--alpha", "0.0005"], "raise --alpha"),
])
def test_contradictory_options_give_one_line(args, fragment, tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(MULTI_CONFIG.format(root=REPO / "data" / "sample"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    one_line_error(run_cli("evaluate", *args), fragment)
