"""What the server translates with: one model, its target languages, decode settings, an optional glossary and
the batcher.

Every request becomes segments: a plain string is translated line by line, like `tcli translate` (a string
with line breaks is split and joined again; each line split into sentences as options.split says), an HTML
string or an uploaded document is parsed by its format (core/documents/). All segments of all requests go
through the batcher, and each request gets exactly its own outputs, in order; empty strings and empty lines
stay empty.
"""

from __future__ import annotations

from dataclasses import asdict

from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.documents.formats import escape_for, parse
from translate_cli.core.documents.glossary import Glossary
from translate_cli.core.documents.inline import translate_segments
from translate_cli.core.documents.segments import Placed, Segment
from translate_cli.core.languages import display_name
from translate_cli.core.serving.batcher import Batcher, BatchSettings
from translate_cli.core.translator import TranslationStats, Translator

Item = tuple[str, Segment]  # (target language, segment)


def split_lines(text: str) -> list[str]:
    """A string's lines; "\\r\\n" and a lone "\\r" count as line breaks too."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class TranslationService:
    def __init__(self, loaded: LoadedModel, options: DecodeOptions, batching: BatchSettings, backend: str,
                 glossary: Glossary | None = None):
        self.loaded, self.options, self.backend, self.glossary = loaded, options, backend, glossary
        self.source_lang = loaded.info.source_lang
        self.target_langs = list(loaded.info.target_langs)
        self.translators = {lang: Translator(loaded, lang) for lang in self.target_langs}
        self.stats = TranslationStats()
        # The batch budget in source tokens: what Translator.search puts in one batch at this beam size.
        budget = max(1, options.batch_tokens // options.beam_size)
        self.batcher: Batcher[Item, Placed] = Batcher(self._run, self._weigh, budget, batching)

    def _weigh(self, item: Item) -> int:
        lang, segment = item
        return sum(len(ids) + 1 for ids in self.translators[lang].encode(segment.text, self.options.split))  # + EOS

    def _run(self, items: list[Item]) -> list[Placed]:
        """Worker thread: one translation call per target language present."""
        results: list[Placed] = [Placed("")] * len(items)
        for lang, translator in self.translators.items():
            indices = [i for i, (item_lang, _) in enumerate(items) if item_lang == lang]
            if indices:
                placed = translate_segments(translator, [items[i][1] for i in indices], self.options, self.stats)
                for index, translation in zip(indices, placed):
                    results[index] = translation
        return results

    def _with_terms(self, segments: list[Segment], format: str) -> list[Segment]:
        if self.glossary is None:
            return segments
        escape = escape_for(format)
        return [self.glossary.apply(segment, escape)[0] for segment in segments]

    async def translate(self, texts: list[str], lang: str) -> list[str]:
        """Plain strings: one output per text, in order (lang must be one of target_langs)."""
        per_text = [split_lines(text) for text in texts]
        segments = self._with_terms([Segment(line) for lines in per_text for line in lines], "text")
        outputs = await self.batcher.submit([(lang, segment) for segment in segments])
        joined, start = [], 0
        for lines in per_text:
            joined.append("\n".join(placed.render() for placed in outputs[start:start + len(lines)]))
            start += len(lines)
        return joined

    async def translate_documents(self, texts: list[str], format: str, lang: str, where: str) -> list[str]:
        """Whole documents (HTML strings, uploaded files) of one format, translated with their structure
        kept; a document that does not parse raises DataError."""
        spaced = self.translators[lang].joiner == " "
        documents = [parse(text, format, where, lang, spaced) for text in texts]
        segments = [self._with_terms(document.segments, format) for document in documents]
        outputs = await self.batcher.submit([(lang, segment) for group in segments for segment in group])
        rendered, start = [], 0
        for document, group in zip(documents, segments):
            rendered.append(document.render(outputs[start:start + len(group)]))
            start += len(group)
        return rendered

    def info(self) -> dict:
        return {"model": self.loaded.path.name, "backend": self.backend, "source": self.source_lang,
                "targets": self.target_langs, "decode": asdict(self.options),
                "glossary_terms": len(self.glossary.terms) if self.glossary is not None else 0,
                "batching": asdict(self.batcher.settings) | {"budget_source_tokens": self.batcher.budget}}

    def languages(self) -> list[dict]:
        """LibreTranslate's /languages: every language with the targets it translates into."""
        entries = [{"code": self.source_lang, "name": display_name(self.source_lang), "targets": self.target_langs}]
        entries += [{"code": lang, "name": display_name(lang), "targets": []} for lang in self.target_langs
                    if lang != self.source_lang]
        return entries
