"""Documents wing: the text people translate, in the shapes it comes in: lines from a file, a terminal or a
pipe; TSV columns or JSONL fields of rows; whole Markdown, HTML, SRT, WebVTT and gettext PO files, whose
structure is kept and whose inline markup is carried across the translation; and glossaries."""
