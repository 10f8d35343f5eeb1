"""Documents wing: the text people translate, in the shapes it comes in: lines from a file, a terminal or a
pipe, and TSV columns or JSONL fields of rows."""
