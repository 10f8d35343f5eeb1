"""Language codes and names: tcli's codes (ISO 639-1: en, hi, ja), those of imported models (OPUS-MT's >>hin<<,
M2M100's __hi__, NLLB's hin_Deva), so that `--to hi` means the same thing for every model, and the names
people read (`tcli serve`'s /languages and its web page)."""

from __future__ import annotations

# ISO 639-3 (and 639-2/B) codes -> ISO 639-1, for the languages of OPUS-MT, M2M100 and NLLB that have a
# two-letter code. Individual languages that NLLB and OPUS-MT use for a macrolanguage (arb for Arabic,
# cmn for Chinese, pes for Persian...) map to the macrolanguage's code.
_TABLE = """
af afr | am amh | ar ara arb | as asm | az aze azj | ba bak | be bel | bg bul | bm bam | bn ben | bo bod tib |
br bre | bs bos | ca cat | ce che | cs ces cze | cy cym wel | da dan | de deu ger | dz dzo | ee ewe |
el ell gre | en eng | eo epo | es spa | et est ekk | eu eus baq | fa fas per pes | ff ful fuv | fi fin |
fj fij | fo fao | fr fra fre | fy fry | ga gle | gd gla | gl glg | gn grn | gu guj | ha hau | he heb |
hi hin | hr hrv | ht hat | hu hun | hy hye arm | id ind | ig ibo | is isl ice | it ita | ja jpn | jv jav |
ka kat geo | ki kik | kk kaz | km khm | kn kan | ko kor | ks kas | ku kur kmr | ky kir | la lat | lb ltz |
lg lug | li lim | ln lin | lo lao | lt lit | lv lav lvs | mg mlg plt | mi mri mao | mk mkd mac | ml mal |
mn mon khk | mr mar | ms msa may zsm | mt mlt | my mya bur | nb nob | ne nep npi | nl nld dut | nn nno |
no nor | ny nya | oc oci | om orm gaz | or ori ory | pa pan | pl pol | ps pus pbt | pt por | qu que quy |
rn run | ro ron rum | ru rus | rw kin | sa san | sc srd | sd snd | sg sag | si sin | sk slk slo | sl slv |
sm smo | sn sna | so som | sq sqi alb als | sr srp | ss ssw | st sot | su sun | sv swe | sw swa swh |
ta tam | te tel | tg tgk | th tha | ti tir | tk tuk | tl tgl | tn tsn | tr tur | ts tso | tt tat | tw twi |
ug uig | uk ukr | ur urd | uz uzb uzn | vi vie | wo wol | xh xho | yi yid ydd | yo yor | zh zho chi cmn |
zu zul
"""
TO_SHORT = {long: entry.split()[0] for entry in _TABLE.split("|") for long in entry.split()[1:]}


def short_code(code: str) -> str | None:
    """tcli's two-letter name for a model's language code (hin_Deva, hin, hi -> hi), or None."""
    base = code.split("_")[0].split("-")[0].lower()
    if len(base) == 2:
        return base
    return TO_SHORT.get(base)


def name_languages(codes: list[str]) -> dict[str, str]:
    """tcli's name for each of a model's language codes: the two-letter code where it names exactly one of
    them (or one of them is that language without a script, as >>jpn<< beside >>jpn_Hani<<), else the
    model's own code. Returns name -> code, in the order of `codes`."""
    groups: dict[str, list[str]] = {}
    for code in codes:
        short = short_code(code)
        if short is not None:
            groups.setdefault(short, []).append(code)
    chosen = {}
    for short, group in groups.items():
        bare = [code for code in group if "_" not in code]
        if len(group) == 1 or len(bare) == 1:
            chosen[group[0] if len(group) == 1 else bare[0]] = short
    names = {chosen.get(code, code): code for code in codes}
    assert len(names) == len(codes), "two codes got one name"
    return names


def find_code(lang: str, codes: list[str]) -> str | None:
    """The model code that `lang` (tcli's name or the model's own code) stands for, if any."""
    if lang in codes:
        return lang
    return name_languages(codes).get(lang)


# English names of the languages tcli's own configs and the bundled sample use, and a few common others.
DISPLAY_NAMES = {"en": "English", "ja": "Japanese", "hi": "Hindi", "zh": "Chinese", "de": "German", "fr": "French",
                 "es": "Spanish", "ko": "Korean"}


def display_name(code: str) -> str:
    """The English name of a language code (hin_Deva and hi are both Hindi), or the code itself."""
    return DISPLAY_NAMES.get(code) or DISPLAY_NAMES.get(short_code(code) or "", code)
