"""tcli: train and run English→Hindi/Japanese neural machine translation from the shell."""

__version__ = "0.1.0"
