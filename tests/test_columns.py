"""--tsv-column and --jsonl-field: one text per row translated, everything else passed through, every row kept
in order; bad rows stop with their line number or are copied through and counted."""

import json

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from translate_cli.core.documents.columns import JsonlField, RowStats, TsvColumn, translate_rows
from translate_cli.errors import DataError

CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n"), max_size=12)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=8)


def fake_translate(texts: list[str]) -> list[str]:
    return [f"<{text}>" for text in texts]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(CELL, max_size=5).map("\t".join), max_size=15), column=st.integers(1, 4),
       first=st.integers(1, 5000))
def test_tsv_rows_keep_count_order_and_other_cells(rows, column, first):
    stats = RowStats()
    out = translate_rows(rows, first, TsvColumn(column), fake_translate, "skip-copy", stats, "t.tsv")
    assert len(out) == len(rows) == stats.rows
    bad = [i for i, row in enumerate(rows) if row and row.count("\t") + 1 < column]
    assert stats.bad == len(bad) and stats.empty == rows.count("")
    for i, (row, result) in enumerate(zip(rows, out)):
        if i in bad or not row:
            assert result == row  # copied through untranslated
            continue
        cells, new = row.split("\t"), result.split("\t")
        assert len(new) == len(cells) and new[column - 1] == f"<{cells[column - 1]}>"
        assert new[:column - 1] == cells[:column - 1] and new[column:] == cells[column:]
    if bad:
        with pytest.raises(DataError, match=rf"^t\.tsv:{first + bad[0]}: the row has"):
            translate_rows(rows, first, TsvColumn(column), fake_translate, "error", RowStats(), "t.tsv")


@settings(max_examples=150, deadline=None)
@given(records=st.lists(st.dictionaries(st.sampled_from(["id", "text", "meta", "é"]), JSON_VALUE, max_size=4)
                        | st.sampled_from(["not json", "[1, 2]", '"text"']), max_size=10))
def test_jsonl_rows_keep_every_other_field_and_key_order(records):
    rows = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    stats = RowStats()
    out = translate_rows(rows, 1, JsonlField("text"), fake_translate, "skip-copy", stats, "r.jsonl")
    assert len(out) == len(rows)
    good = 0
    for record, row, result in zip(records, rows, out):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            assert result == row
            continue
        good += 1
        parsed = json.loads(result)
        assert list(parsed) == list(record) and parsed["text"] == f"<{record['text']}>"
        assert {k: v for k, v in parsed.items() if k != "text"} == {k: v for k, v in record.items() if k != "text"}
    assert stats.bad == len(rows) - good


def test_jsonl_bad_rows_say_what_is_wrong():
    layout = JsonlField("text")
    for row, problem in [('{"text": 3}', 'field "text" is a JSON number, not a string'),
                         ('{"id": 1}', 'has no field "text"'), ("[1]", "is a JSON array, not an object"),
                         ('{"text": "a", "text": "b"}', 'has the key "text" twice'), ("{", "is not valid JSON")]:
        with pytest.raises(DataError, match=r"^f:7: the row " + problem.replace("[", r"\[")):
            translate_rows([row], 7, layout, fake_translate, "error", RowStats(), "f")


def test_tsv_column_through_the_cli(single_model_dir, tmp_path):
    source = tmp_path / "in.tsv"
    source.write_text("id1\tWhere is the station?\tkeep  this\n\nid3\tHe is my friend.\t\n", encoding="utf-8")
    result = run_cli("translate", str(single_model_dir), str(source), "-o", str(tmp_path / "out.tsv"), "-b", "1",
                     "--tsv-column", "2")
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "out.tsv").read_text(encoding="utf-8").split("\n")
    assert len(rows) == 4 and rows[3] == "" and rows[1] == ""
    assert rows[0].split("\t")[::2] == ["id1", "keep  this"] and rows[2].split("\t")[::2] == ["id3", ""]
    assert "of 3 rows (1 empty)" in result.stderr


def test_bad_row_is_an_error_with_no_output_file_or_is_copied_and_counted(single_model_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "Hello."}\n{"id": 2, "text": null}\n{"text": "Bye.", "z": [1]}\n',
                      encoding="utf-8")
    output = tmp_path / "out.jsonl"
    args = ["translate", str(single_model_dir), str(source), "-o", str(output), "-b", "1", "--jsonl-field", "text"]
    failed = run_cli(*args)
    assert failed.exit_code == 2 and "in.jsonl:2: the row field \"text\" is a JSON null" in failed.stderr
    assert "Traceback" not in failed.output and not output.exists() and len(failed.stderr.strip().split("\n")) == 1
    copied = run_cli(*args, "--on-bad-row", "skip-copy")
    assert copied.exit_code == 0, copied.output
    rows = output.read_text(encoding="utf-8").split("\n")[:-1]
    assert rows[1] == '{"id": 2, "text": null}' and len(rows) == 3
    assert list(json.loads(rows[0])) == ["id", "text"] and list(json.loads(rows[2])) == ["text", "z"]
    assert "1 bad rows copied through untranslated (lines 2)" in copied.stderr


def test_stdin_rows_and_conflicting_options(single_model_dir):
    result = run_cli("translate", str(single_model_dir), "-b", "1", "--jsonl-field", "t", stdin='{"t": "a. b."}\n')
    assert result.exit_code == 0 and list(json.loads(result.stdout)) == ["t"]
    both = run_cli("translate", str(single_model_dir), "--jsonl-field", "t", "--tsv-column", "1", stdin="a\n")
    assert both.exit_code == 2 and "give one of them" in both.stderr
    nbest = run_cli("translate", str(single_model_dir), "--tsv-column", "1", "--nbest", "2", stdin="a\n")
    assert nbest.exit_code == 2 and "--nbest" in nbest.stderr
