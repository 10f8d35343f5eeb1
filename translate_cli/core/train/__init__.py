"""Training wing: the prepared data folder (`tcli prepare`), the trainer and its schedule, the loss,
validation, the run directory (resume state, kept checkpoints, averaging) and training on several
processes."""
