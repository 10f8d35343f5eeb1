"""How many target lines Hindi normalisation beyond NFKC changes, and which characters it replaces.

    python scripts/indic_changes.py ../shared/data/en-hi/iitb18k/train.hi ../shared/data/flores200/devtest.hi

Compares normalize.hi = {unicode_form: NFKC} with {unicode_form: NFKC, indic: hi} (indic-nlp-library).
"""

from __future__ import annotations

import collections
import sys
import unicodedata

from translate_cli.core.text import Normalization, normalize


def main() -> None:
    plain = Normalization(unicode_form="NFKC")
    indic = Normalization(unicode_form="NFKC", indic="hi")
    for path in sys.argv[1:]:
        lines = changed = 0
        replaced: collections.Counter[str] = collections.Counter()
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                lines += 1
                before, after = normalize(line.rstrip("\n"), plain), normalize(line.rstrip("\n"), indic)
                if before != after:
                    changed += 1
                    replaced.update(f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}" for ch in set(before) - set(after))
        print(f"{path}: {changed:,} of {lines:,} lines change ({changed / max(lines, 1):.1%}); "
              f"characters replaced (lines): {replaced.most_common(6)}")


if __name__ == "__main__":
    main()
