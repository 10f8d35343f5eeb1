"""Evaluation results in the formats CI systems display: JUnit XML (one test case per test set and gate)
and a Markdown table (GitHub's job summary, merge-request comments)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from translate_cli.core.evaluate.evaluation import SetResult
from translate_cli.core.metrics import LABELS, METRICS


def junit_xml(results: list[SetResult]) -> str:
    """A <testsuites> document: a <testsuite> per test set, a <testcase> per gate, <failure> when it failed."""
    gates = [gate for result in results for gate in result.gates]
    failures = sum(not gate.passed for gate in gates)
    root = ElementTree.Element("testsuites", name="tcli evaluate", tests=str(len(gates)), failures=str(failures))
    for result in results:
        failed = sum(not gate.passed for gate in result.gates)
        suite = ElementTree.SubElement(root, "testsuite", name=result.name, tests=str(len(result.gates)),
                                       failures=str(failed), errors="0", skipped="0")
        properties = ElementTree.SubElement(suite, "properties")
        for metric in METRICS:
            ElementTree.SubElement(properties, "property", name=metric, value=f"{result.scores.value(metric):.2f}")
        for gate in result.gates:
            case = ElementTree.SubElement(suite, "testcase", classname=result.name, name=gate.title, time="0")
            if gate.passed:
                ElementTree.SubElement(case, "system-out").text = gate.detail
            else:
                ElementTree.SubElement(case, "failure", message=gate.detail, type=gate.name).text = gate.detail
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: list[SetResult], notes: list[str]) -> str:
    """A Markdown table of every set and metric (with the baseline columns when one was compared)."""
    comparing = any(result.comparison for result in results)
    passed = all(result.passed for result in results)
    gated = any(result.gates for result in results)
    header = ["set", "metric", "score", *(["baseline", "Δ", "p"] if comparing else []), "gates"]
    verdict = ("passed" if passed else "**failed**") if gated else "no gates"
    lines = [f"### tcli evaluate: {verdict}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + "|"]
    for result in results:
        for row in table_rows(result, comparing):
            lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    lines.append("")
    lines.extend(f"- {_cell(note)}" for note in notes)
    return "\n".join(lines)


def table_rows(result: SetResult, comparing: bool) -> list[list[str]]:
    """One row per metric: set (first row only), metric, score ± CI, [baseline ± CI, Δ, p], gate verdicts."""
    rows = []
    for index, metric in enumerate(METRICS):
        verdicts = [f"{'pass' if gate.passed else 'FAIL'} {gate.name}" for gate in result.gates
                    if gate.metric == metric]
        rows.append([result.name if index == 0 else "", LABELS[metric], *metric_cells(result, metric, comparing),
                     ", ".join(verdicts)])
    return rows


def metric_cells(result: SetResult, metric: str, comparing: bool) -> list[str]:
    """score ± CI, and with a comparison baseline ± CI, Δ (new − baseline) and p."""
    confidence = result.confidence(metric)
    cells = [f"{result.scores.value(metric):.2f}" + (f" ± {confidence:.2f}" if confidence is not None else "")]
    if comparing:
        c = result.comparison.get(metric)
        cells += ([f"{c.baseline:.2f} ± {c.baseline_ci:.2f}", f"{c.delta:+.2f}", f"{c.p_value:.4f}"] if c
                  else ["", "", ""])
    return cells
