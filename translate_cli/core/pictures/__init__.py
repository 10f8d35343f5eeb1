"""Pictures wing: training curves (`tcli plot`) and attention maps (`tcli attention`) with matplotlib, and
the fonts that cover Devanagari and Japanese labels.

Uses the train wing: curves are drawn from a run directory's log (train.run_dir.read_log)."""
