"""Evaluation wing: test sets, gates, baseline reports and paired significance tests, the JSON report, and
JUnit/Markdown reports for CI (`tcli evaluate`)."""
