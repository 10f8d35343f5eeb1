"""Choosing fonts that can draw the labels of a picture (Latin, Devanagari, kana and kanji).

matplotlib falls back from one font to the next glyph by glyph, so the chosen fonts are those that
together cover every character of the labels. Missing coverage is an error, not a row of boxes.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from translate_cli.errors import TcliError

# Tried first, in this order; any other installed font may fill a gap.
PREFERRED = ("DejaVu Sans", "Noto Sans", "Noto Sans Devanagari", "Lohit Devanagari", "Noto Sans CJK JP",
             "IPAGothic", "IPAPGothic", "TakaoGothic", "Noto Sans JP")
INSTALL_HINT = ("install fonts that have them (Debian/Ubuntu: apt install fonts-lohit-deva fonts-ipafont-gothic, "
                "or fonts-noto-core fonts-noto-cjk) or pass --font FILE.ttf")


def import_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
        from matplotlib import font_manager, ft2font
    except ImportError:
        raise TcliError("pictures need matplotlib: pip install -e \".[viz]\"") from None
    return pyplot, font_manager, ft2font


def _coverage(path: str, ft2font) -> set[int]:
    try:
        return set(ft2font.FT2Font(path).get_charmap())
    except (RuntimeError, OSError):
        return set()


def choose_fonts(text: str, extra_files: list[Path] = ()) -> list[str]:
    """Family names whose fonts together draw every visible character of `text`; registers extra files."""
    _, font_manager, ft2font = import_matplotlib()
    for path in extra_files:
        if not Path(path).is_file():
            raise TcliError(f"{path}: font file not found")
        font_manager.fontManager.addfont(str(path))
    needed = {ord(c) for c in text if not c.isspace() and unicodedata.category(c)[0] not in "CZ"}
    fonts = {}
    for entry in font_manager.fontManager.ttflist:
        fonts.setdefault(entry.name, entry.fname)
    extra_names = [font_manager.FontProperties(fname=str(p)).get_name() for p in extra_files]
    order = extra_names + [n for n in PREFERRED if n in fonts] + sorted(n for n in fonts if n not in PREFERRED)
    chosen, missing = [], set(needed)
    for name in order:
        if not missing:
            break
        covered = missing & _coverage(fonts[name], ft2font)
        if covered:
            chosen.append(name)
            missing -= covered
    if missing:
        sample = "".join(sorted(chr(c) for c in missing)[:8])
        scripts = sorted({unicodedata.name(chr(c), "?").split(" ")[0] for c in missing})
        raise TcliError(f"no installed font can draw {sample!r} ({', '.join(scripts)}); {INSTALL_HINT}")
    return chosen or ["DejaVu Sans"]
