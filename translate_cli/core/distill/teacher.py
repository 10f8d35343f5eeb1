"""The teacher: any model tcli can load (its own, an imported OPUS-MT or NLLB model, a CTranslate2 export),
on the fastest backend it has (an export made from its weights, else native PyTorch), on every core.

Uses the ct2 wing: the choice of backend and loading it (core/ct2/backend.py), as `tcli translate` does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from translate_cli.core.checkpoint import MODEL_JSON, WEIGHTS, ModelInfo, describe_langs, read_info
from translate_cli.core.ct2.backend import BackendChoice, choose_backend, load_for_translation
from translate_cli.core.ct2.runtime import CT2_MARKER
from translate_cli.core.distill.corpus import DistillSettings
from translate_cli.core.translator import Translator
from translate_cli.errors import DataError


def check_languages(info: ModelInfo, where: Path, source_lang: str, target_langs: list[str]) -> None:
    """A teacher that cannot translate the config's languages is a one-line error, before any work."""
    if info.source_lang != source_lang:
        raise DataError(f"{where}: the teacher translates from '{info.source_lang}' but the config's source_lang is "
                        f"'{source_lang}'; choose a teacher for {source_lang}→{','.join(target_langs)}")
    missing = [lang for lang in target_langs if info.find_lang(lang) is None]
    if missing:
        raise DataError(f"{where}: the teacher does not translate into {', '.join(missing)}; it knows "
                        f"{describe_langs(info.target_langs)}")


def identity(choice: BackendChoice) -> dict:
    """What makes a teacher's translations what they are: its weights' checksum and the backend (with an
    export's quantization); the cache key of distilled corpora includes it."""
    info = json.loads((choice.folder / MODEL_JSON).read_text(encoding="utf-8"))
    found = {"weights": info.get("sha256", {}).get(WEIGHTS), "backend": choice.backend}
    if choice.backend == "ctranslate2":
        found["export"] = json.loads((choice.folder / CT2_MARKER).read_text(encoding="utf-8")).get("quantization")
    return found


def open_teacher(folder: Path, source_lang: str, target_langs: list[str],
                 threads: int | None = None) -> tuple[BackendChoice, Callable[[str], Translator]]:
    """The teacher's backend (with why an export was not taken, if so) and a Translator per target language."""
    choice = choose_backend(Path(folder), "auto")
    check_languages(read_info(choice.folder), choice.folder, source_lang, target_langs)
    loaded = load_for_translation(choice, "none", threads)
    return choice, lambda lang: Translator(loaded, lang)


def translate_function(translator: Translator, settings: DistillSettings) -> Callable[[list[str], list[str]], list[str]]:
    """sources, original targets -> the teacher's translations (with nbest > 1, of its n-best the one
    closest to the original target by sentence chrF)."""
    options = translator.info.decode.updated(beam_size=settings.beam_size, length_penalty=settings.length_penalty,
                                             nbest=settings.nbest)
    if settings.nbest == 1:
        return lambda sources, targets: [t.text for t in translator.translate(sources, options)]
    from sacrebleu.metrics import CHRF

    chrf = CHRF()

    def closest(sources: list[str], targets: list[str]) -> list[str]:
        chosen = []
        for translation, target in zip(translator.translate(sources, replace(options)), targets):
            candidates = [text for text, _ in translation.alternatives] or [translation.text]
            chosen.append(max(candidates, key=lambda text: chrf.sentence_score(text, [target]).score))
        return chosen
    return closest
