"""Serving wing: what `tcli serve` translates with, without HTTP: the translation service, dynamic batching
in one worker thread, and the server's limits. The HTTP front end is translate_cli/server/.

Uses the documents wing: requests may be HTML or whole documents (parsed by its formats), and a glossary
applies to them as to `tcli translate`."""
