"""Serving wing: what `tcli serve` translates with, without HTTP: the translation service, dynamic batching
in one worker thread, and the server's limits. The HTTP front end is translate_cli/server/."""
