"""Documents and glossaries, measured on real sentences (issue 26).

    python scripts/bench_documents.py --model runs/en-ja/best --src ../shared/data/en-ja/tatoeba-fresh/dev.en \
        --ref ../shared/data/en-ja/tatoeba-fresh/dev.ja --lexicon-from ../shared/data/en-ja/tanaka50k/train \
        --json docs/bench_documents.json

1. The format layer: the same sentences translated as plain lines and inside a Markdown file, an HTML page, an
   SRT file (every third sentence split over two cues) and a PO catalogue, with inline markup (emphasis, a link,
   inline code or an HTML tag) around a word of every other sentence. Each format's translations are read back
   from its output (the markup stripped) and scored; the table gives BLEU/chrF against the plain lines' and the
   time against theirs (same process, one after the other, plain first and last; the faster plain run counts).
2. Tag placement: a word of each sentence that the lexicon knows is wrapped in <b>; where the translation holds
   the lexicon's translation of the word, the tag "lands" if the words it wraps contain it.
3. Glossary: the lexicon's entries for words of the test sentences whose translation appears in the reference
   (so the glossary is right for this test) given as --glossary; BLEU/chrF and term accuracy with and without.

The lexicon is extracted from a training corpus here (English word -> the Japanese noun or two-noun compound,
as MeCab splits them, with the best Dice coefficient over the sentences they occur in), never from the test set:
a glossary holds terms. (Character n-grams, tried first, gave fragments such as "ストラリ" for Australia and
"怒っ" for angry; docs/benchmarks.md has both runs.)
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import time
from collections import Counter
from pathlib import Path

STOP = set("the a an and or but of to in on at for with from by is are was were be been am i you he she it we they "
           "me him her us them my your his its our their this that these those do does did not no yes have has had "
           "will would can could shall should may might must there here what who whom which when where why how "
           "as if so than then too very just also about into out up down over again all any some such only own same "
           "s t don isn aren wasn weren didn doesn won".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_CONTENT = re.compile(r"[\u3400-\u9fff\u30a0-\u30ff]")  # kanji or katakana: a content n-gram


def lexicon(prefix: Path, lang: str, min_count: int = 8, min_dice: float = 0.45) -> dict[str, str]:
    """English word -> its most associated target noun or two-noun compound (with kanji or katakana)."""
    sources = (prefix.parent / f"{prefix.name}.en").read_text(encoding="utf-8").splitlines()
    targets = (prefix.parent / f"{prefix.name}.{lang}").read_text(encoding="utf-8").splitlines()
    word_count, gram_count, pairs = Counter(), Counter(), Counter()
    for source, target in zip(sources, targets):
        words = {w.lower() for w in _WORD.findall(source)} - STOP
        grams = {gram for gram in nouns(target) if _useful(gram)}
        word_count.update(words)
        gram_count.update(grams)
        pairs.update((word, gram) for word in words for gram in grams)
    best: dict[str, tuple[float, str]] = {}
    for (word, gram), together in pairs.items():
        if word_count[word] < min_count or together < min_count // 2:
            continue
        dice = 2 * together / (word_count[word] + gram_count[gram])
        if dice >= min_dice and (word not in best or (dice, len(gram)) > (best[word][0], len(best[word][1]))):
            best[word] = (dice, gram)
    return {word: gram for word, (_, gram) in best.items()}


CONTENT_NOUNS = {"一般", "固有名詞", "サ変接続"}


def nouns(sentence: str) -> set[str]:
    """The sentence's nouns and two-word noun compounds, as MeCab (ipadic, sacreBLEU's ja-mecab) splits them:
    a glossary holds terms, whole words, not fragments of inflected verbs."""
    words: list[tuple[str, str, str]] = []
    node = _tagger().parseToNode(sentence)
    while node:
        pos, sub = (node.feature.split(",") + ["", ""])[:2]
        words.append((node.surface, pos, sub))
        node = node.next
    found = set()
    for i, (surface, pos, sub) in enumerate(words):
        if pos == "名詞" and sub in CONTENT_NOUNS:
            found.add(surface)
            if i + 1 < len(words) and words[i + 1][1] == "名詞" and words[i + 1][2] in CONTENT_NOUNS | {"接尾"}:
                found.add(surface + words[i + 1][0])
    return found


@functools.cache
def _tagger():
    import ipadic
    import MeCab

    return MeCab.Tagger(ipadic.MECAB_ARGS)


def _useful(gram: str) -> bool:
    """A candidate translation: kanji or katakana in it, no punctuation, not starting with a kana or ending
    with a particle (so "の国" and "噂は" give way to "国" and "噂")."""
    return bool(_CONTENT.search(gram)) and not re.search(r"[\s。、！？「」]", gram) and \
        not ("\u3040" <= gram[0] <= "\u309f") and gram[-1] not in "をはがにでのともへや"


def documents(sentences: list[str]) -> dict[str, str]:
    """The sentences as a Markdown file, an HTML page, an SRT file and a PO catalogue, with inline markup."""
    md, page, cues, po = [], [], [], ['msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n']
    for index, sentence in enumerate(sentences):
        words = sentence.split()
        marked = words[:]
        if index % 2 and len(words) > 2:
            middle = len(words) // 2
            style = index % 6
            marked[middle] = (f"**{words[middle]}**" if style == 1 else f"[{words[middle]}](https://example.org)"
                              if style == 3 else f"`{words[middle]}`")
        md.append(" ".join(marked) + "\n")
        tagged = words[:]
        if index % 2 and len(words) > 2:
            tagged[len(words) // 2] = f"<b>{words[len(words) // 2]}</b>"
        page.append(f"<p>{' '.join(escape_html(w) if not w.startswith('<b>') else w for w in tagged)}</p>")
        start = 2 * index
        if index % 3 == 2 and len(words) > 3:
            half = len(words) // 2
            cues.append((start, " ".join(words[:half])))
            cues.append((start + 1, " ".join(words[half:])))
        else:
            cues.append((start, sentence))
        po.append(f'msgid "{sentence.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"\nmsgstr ""\n')
    srt = "".join(f"{n}\n{stamp(t)} --> {stamp(t + 1)}\n{text}\n\n" for n, (t, text) in enumerate(cues, 1))
    html = "<!DOCTYPE html>\n<html><body>\n" + "\n".join(page) + "\n</body></html>\n"
    return {"markdown": "\n".join(md), "html": html, "srt": srt, "po": "\n".join(po)}


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stamp(seconds: int) -> str:
    return f"00:{seconds // 60:02d}:{seconds % 60:02d},000"


def read_back(format: str, output: str, count: int, sentences: list[str]) -> list[str]:
    """Each sentence's translation out of a translated document, its markup stripped."""
    import html as html_module

    import polib
    import srt

    if format == "markdown":
        paragraphs = [p for p in output.split("\n\n")]
        return [re.sub(r"\\(.)", r"\1", re.sub(r"\*\*|`|\[([^\]]*)\]\([^)]*\)", r"\1", p)).strip() for p in paragraphs]
    if format == "html":
        return [html_module.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", output, re.S)]
    if format == "srt":
        subs = {sub.start.seconds: sub.content.replace("\n", "") for sub in srt.parse(output)}
        return [subs.get(2 * i, "") + subs.get(2 * i + 1, "") for i in range(count)]
    entries = {entry.msgid: entry.msgstr for entry in polib.pofile(output)}
    return [entries.get(sentence, "") for sentence in sentences]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--lexicon-from", required=True, help="corpus prefix (PREFIX.en, PREFIX.LANG) for the lexicon")
    parser.add_argument("--lang", default="ja")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="docs/bench_documents.json")
    args = parser.parse_args()
    import torch

    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.documents.formats import parse, translate_document
    from translate_cli.core.documents.glossary import Glossary, term_accuracy, translate_lines
    from translate_cli.core.metrics import score
    from translate_cli.core.native import NativeSearcher
    from translate_cli.core.translator import Translator

    torch.set_num_threads(1)
    loaded = load_model(args.model)
    loaded.searcher = NativeSearcher(loaded.model, args.threads)
    translator = Translator(loaded, args.lang)
    options = loaded.info.decode
    sources = [" ".join(line.split()) for line in Path(args.src).read_text(encoding="utf-8").splitlines()[:args.limit]]
    references = Path(args.ref).read_text(encoding="utf-8").splitlines()[:args.limit]
    rows, report = [], {"model": args.model, "sentences": len(sources), "beam_size": options.beam_size}

    def timed(function):
        started = time.perf_counter()
        result = function()
        return result, time.perf_counter() - started

    plain, plain_seconds = timed(lambda: [t.text for t in translator.translate(sources, options)])
    base = score(plain, references, args.lang)
    rows.append(["plain lines", base.bleu, base.chrf, "", 0.0])
    for format, text in documents(sources).items():
        document = parse(text, format, format, args.lang, translator.joiner == " ")
        (output, _), seconds = timed(lambda: translate_document(document, format, translator, options))
        found = read_back(format, output, len(sources), sources)
        assert len(found) == len(sources), (format, len(found))
        scores = score(found, references, args.lang)
        rows.append([format, scores.bleu, scores.chrf, f"{scores.bleu - base.bleu:+.2f}", seconds])
    again, seconds = timed(lambda: [t.text for t in translator.translate(sources, options)])
    assert again == plain, "the plain translation is deterministic"
    plain_seconds = min(plain_seconds, seconds)
    rows[0][4] = plain_seconds
    rows = [row[:4] + [round(row[4] / plain_seconds, 3)] for row in rows]
    report["formats"] = [dict(zip(["system", "bleu", "chrf", "bleu_vs_plain", "time_vs_plain"], row)) for row in rows]

    words = lexicon(Path(args.lexicon_from), args.lang)
    report["lexicon_entries"] = len(words)
    report["tags"] = tag_placement(translator, options, sources, words)
    report["glossary"] = glossary_run(args, translator, options, sources, references, words, plain, base, Glossary,
                                      term_accuracy, translate_lines, score)
    print_report(report)
    Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def tag_placement(translator, options, sources: list[str], words: dict[str, str]) -> dict:
    """<b> around one lexicon word per sentence: how often it wraps that word's translation."""
    from translate_cli.core.documents.html import HtmlDocument

    cases = []
    for sentence in sources:
        tokens = sentence.split()
        known = [i for i, t in enumerate(tokens) if re.sub(r"\W", "", t.lower()) in words]
        if known:
            i = known[len(known) // 2]
            word = re.sub(r"\W", "", tokens[i].lower())
            tokens[i] = f"<b>{tokens[i]}</b>"
            cases.append((f"<p>{' '.join(tokens)}</p>", words[word]))
    from translate_cli.core.documents.formats import translate_document

    page = "\n".join(html for html, _ in cases)
    output, _ = translate_document(HtmlDocument(page), "html", translator, options)
    paragraphs = re.findall(r"<p>(.*?)</p>", output, re.S)
    landed = present = 0
    for paragraph, (_, target) in zip(paragraphs, cases):
        text = re.sub(r"<[^>]+>", "", paragraph)
        if target in text:
            present += 1
            wrapped = "".join(re.findall(r"<b>(.*?)</b>", paragraph))
            landed += target in wrapped
    return {"tagged_sentences": len(cases), "translation_present": present, "landed": landed,
            "landed_share": round(landed / present, 3) if present else None}


def glossary_run(args, translator, options, sources, references, words, plain, base, Glossary, term_accuracy,
                 translate_lines, score) -> dict:
    entries = {}
    for source, reference in zip(sources, references):
        for token in source.split():
            word = re.sub(r"\W", "", token.lower())
            if word in words and words[word] in reference:
                entries[word] = words[word]
    path = Path(args.json).with_suffix(".glossary.tsv")
    path.write_text("".join(f"{w}\t{t}\n" for w, t in sorted(entries.items())), encoding="utf-8")
    glossary = Glossary.read(path)
    with_terms, found = translate_lines(translator, sources, options, glossary)
    scores = score(with_terms, references, args.lang)
    before, after = term_accuracy(glossary, sources, plain), term_accuracy(glossary, sources, with_terms)
    return {"terms": len(entries), "occurrences": found, "glossary_file": str(path),
            "without": {"bleu": base.bleu, "chrf": base.chrf, "term_accuracy": round(before[0] / max(1, before[1]), 3)},
            "with": {"bleu": scores.bleu, "chrf": scores.chrf, "term_accuracy": round(after[0] / max(1, after[1]), 3)}}


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['sentences']} sentences, beam {report['beam_size']}, {report['model']}")
    for column in ("system", "BLEU", "chrF", "BLEU vs plain", "time vs plain"):
        table.add_column(column)
    for row in report["formats"]:
        table.add_row(row["system"], f"{row['bleu']:.2f}", f"{row['chrf']:.2f}", row["bleu_vs_plain"],
                      f"{row['time_vs_plain']:.2f}x")
    Console().print(table)
    Console().print(f"tags: {report['tags']}")
    Console().print(f"glossary: {report['glossary']}")


if __name__ == "__main__":
    main()
