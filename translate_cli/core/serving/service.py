"""What the server translates with: one model, its target languages, decode settings and the batcher.

Every string of every request becomes one or more lines (a string with line breaks is translated line
by line, like `tcli translate`, and joined again; each line split into sentences as options.split says), all lines go through the batcher, and each request
gets exactly one output per string, in order; empty strings and empty lines stay empty.
"""

from __future__ import annotations

from dataclasses import asdict

from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.languages import display_name
from translate_cli.core.serving.batcher import Batcher, BatchSettings
from translate_cli.core.translator import TranslationStats, Translator

Line = tuple[str, str]  # (target language, source line)


def split_lines(text: str) -> list[str]:
    """A string's lines; "\\r\\n" and a lone "\\r" count as line breaks too."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class TranslationService:
    def __init__(self, loaded: LoadedModel, options: DecodeOptions, batching: BatchSettings, backend: str):
        self.loaded, self.options, self.backend = loaded, options, backend
        self.source_lang = loaded.info.source_lang
        self.target_langs = list(loaded.info.target_langs)
        self.translators = {lang: Translator(loaded, lang) for lang in self.target_langs}
        self.stats = TranslationStats()
        # The batch budget in source tokens: what Translator.search puts in one batch at this beam size.
        budget = max(1, options.batch_tokens // options.beam_size)
        self.batcher: Batcher[Line, str] = Batcher(self._run, self._weigh, budget, batching)

    def _weigh(self, item: Line) -> int:
        lang, line = item
        return sum(len(ids) + 1 for ids in self.translators[lang].encode(line, self.options.split))  # + EOS

    def _run(self, items: list[Line]) -> list[str]:
        """Worker thread: one Translator.translate call per target language present."""
        results: list[str] = [""] * len(items)
        for lang, translator in self.translators.items():
            indices = [i for i, (item_lang, _) in enumerate(items) if item_lang == lang]
            if not indices:
                continue
            translations = translator.translate([items[i][1] for i in indices], self.options, self.stats)
            for index, translation in zip(indices, translations):
                results[index] = translation.text
        return results

    async def translate(self, texts: list[str], lang: str) -> list[str]:
        """One output per text, in order (lang must be one of target_langs)."""
        per_text = [split_lines(text) for text in texts]
        outputs = await self.batcher.submit([(lang, line) for lines in per_text for line in lines])
        joined, start = [], 0
        for lines in per_text:
            joined.append("\n".join(outputs[start:start + len(lines)]))
            start += len(lines)
        return joined

    def info(self) -> dict:
        return {"model": str(self.loaded.path), "backend": self.backend, "source": self.source_lang,
                "targets": self.target_langs, "decode": asdict(self.options),
                "batching": asdict(self.batcher.settings) | {"budget_source_tokens": self.batcher.budget}}

    def languages(self) -> list[dict]:
        """LibreTranslate's /languages: every language with the targets it translates into."""
        entries = [{"code": self.source_lang, "name": display_name(self.source_lang), "targets": self.target_langs}]
        entries += [{"code": lang, "name": display_name(lang), "targets": []} for lang in self.target_langs
                    if lang != self.source_lang]
        return entries

