"""Hugging Face wing: importing OPUS-MT (Marian), M2M100 and NLLB models as tcli model directories, their
vocabularies, and the hub download (`tcli import`)."""
