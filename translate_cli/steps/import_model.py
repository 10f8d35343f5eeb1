"""tcli import: a Hugging Face translation model (a local folder or a hub id) as a tcli model directory
(core/hf/importer.py, core/hf/hub.py)."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.checkpoint import describe_langs
from translate_cli.core.hf.hub import download, looks_like_hub_id
from translate_cli.core.hf.importer import import_folder


def run(source: str, *, output: Path, source_lang: str | None = None, target_lang: str | None = None,
        revision: str | None = None) -> Path:
    folder = Path(source)
    if looks_like_hub_id(source):
        folder = download(source, revision)  # huggingface_hub shows its own progress bars
        console.info(f"fetched {source} from the Hugging Face hub (cached for later imports: {folder})")
    imported = import_folder(folder, output, source_lang, target_lang, origin=source)
    info = imported.info
    config = info.model
    for note in imported.notes:
        console.warn(note)
    console.info(f"{imported.kind}: {imported.parameters / 1e6:.1f}M parameters, {config.encoder_layers}+"
                 f"{config.decoder_layers} layers, d_model {config.d_model}, vocabulary {config.vocab_size:,}")
    console.info(f"translates {info.source_lang} into {describe_langs(info.target_langs)}")
    hint = "" if len(info.target_langs) == 1 else f" --to {info.target_langs[0]}"
    console.info(f"wrote {output}; translate with `echo 'How are you?' | tcli translate {output}{hint}`",
                 "[green]done:[/green] ")
    return imported.folder
