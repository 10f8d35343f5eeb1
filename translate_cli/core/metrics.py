"""sacreBLEU BLEU and chrF with the BLEU tokenizer chosen by the target language."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sacrebleu.metrics import BLEU, CHRF

# Japanese has no spaces between words: BLEU over MeCab tokens (as JoeyNMT and WAT do).
BLEU_TOKENIZERS = {"ja": "ja-mecab", "zh": "zh", "ko": "ko-mecab"}


def bleu_tokenizer(lang: str) -> str:
    return BLEU_TOKENIZERS.get(lang, "13a")


@dataclass
class Scores:
    lang: str
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    bleu_detail: str  # n-gram precisions, brevity penalty, lengths
    sentences: int

    def to_dict(self) -> dict:
        return asdict(self)


def score(hypotheses: list[str], references: list[str], lang: str) -> Scores:
    """Corpus BLEU and chrF of aligned hypothesis/reference lines for target language `lang`."""
    assert len(hypotheses) == len(references), "hypotheses and references must align"
    bleu = BLEU(tokenize=bleu_tokenizer(lang))
    chrf = CHRF()
    bleu_result = bleu.corpus_score(hypotheses, [references])
    chrf_result = chrf.corpus_score(hypotheses, [references])
    detail = str(bleu_result).split("=", 1)[1].strip()
    return Scores(lang=lang, bleu=round(bleu_result.score, 2), chrf=round(chrf_result.score, 2),
                  bleu_signature=str(bleu.get_signature()), chrf_signature=str(chrf.get_signature()),
                  bleu_detail=detail, sentences=len(hypotheses))
