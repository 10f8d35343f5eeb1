"""Finishing a run well and the speed options: early stopping, checkpoint averaging, bf16, compile, fused AdamW."""

import json

import torch
from conftest import run_cli
from safetensors.torch import load_file

from translate_cli.core.train import trainer
from translate_cli.core.train.run_dir import average_weights
from translate_cli.errors import ConfigError


def dev_entries(project, run="runs/tiny"):
    return [e for e in map(json.loads, (project / run / "log.jsonl").read_text().splitlines()) if e["type"] == "dev"]


def test_early_stopping_after_patience(tiny_project, tcli):
    # lr=1e-30 (the config requires lr > 0): every update is below float32 resolution, so the weights and the
    # dev loss stay as they are and never improve after the first validation.
    done = tcli("train", "c.yaml", "train.lr=1e-30", "train.best_metric=loss", "train.patience=2",
                "train.eval_every=5", "train.max_steps=100", cwd=tiny_project)
    assert done.returncode == 0, done.stderr
    assert "stopping early" in done.stderr
    assert [e["step"] for e in dev_entries(tiny_project)] == [5, 10, 15]


def test_checkpoints_are_kept_and_averaged(tiny_project, tcli):
    done = tcli("train", "c.yaml", "train.keep_checkpoints=3", "train.checkpoint_every=5",
                "train.average_last=3", "train.max_steps=28", cwd=tiny_project)
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in (tiny_project / "runs/tiny/checkpoints").iterdir())
    # every 5 steps, and the final step even when it is not a multiple of 5
    assert kept == ["step0000020.safetensors", "step0000025.safetensors", "step0000028.safetensors"]
    averaged = load_file(str(tiny_project / "runs/tiny/averaged/model.safetensors"))
    parts = [load_file(str(tiny_project / "runs/tiny/checkpoints" / name)) for name in kept]
    for name, tensor in averaged.items():
        assert torch.allclose(tensor, sum(p[name] for p in parts) / 3, atol=1e-6)
    info = json.loads((tiny_project / "runs/tiny/averaged/model.json").read_text())
    assert info["training"]["averaged_steps"] == [20, 25, 28]
    command = run_cli("average", str(tiny_project / "runs/tiny"), "--last", "2", "-o", str(tiny_project / "avg2"))
    assert command.exit_code == 0, command.output
    translated = run_cli("translate", str(tiny_project / "avg2"), "-b", "1", stdin="Where is the station?\n")
    assert translated.exit_code == 0
    too_many = run_cli("average", str(tiny_project / "runs/tiny"), "--last", "9", "-o", str(tiny_project / "x"))
    assert too_many.exit_code == 2 and "fewer than the 9" in too_many.stderr


def test_average_weights_is_the_mean(tmp_path):
    from safetensors.torch import save_file

    for index, value in enumerate((1.0, 2.0, 6.0)):
        save_file({"w": torch.full((2, 2), value)}, str(tmp_path / f"{index}.safetensors"))
    mean = average_weights([tmp_path / f"{i}.safetensors" for i in range(3)])
    assert torch.equal(mean["w"], torch.full((2, 2), 3.0))


def test_bf16_autocast_trains(tiny_project, tcli):
    done = tcli("train", "c.yaml", "train.precision=bf16", "train.max_steps=6", "train.eval_every=6", cwd=tiny_project)
    assert done.returncode == 0, done.stderr
    assert all(e["dev_loss"] == e["dev_loss"] for e in dev_entries(tiny_project))  # not NaN
    fp16 = tcli("train", "c.yaml", "train.precision=fp16", "work_dir=runs/fp16", cwd=tiny_project)
    assert fp16.returncode == 2 and "needs a CUDA device" in fp16.stderr


def test_auto_precision_is_bf16_only_with_native_bf16(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(trainer, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert trainer.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(trainer, "cpu_flags", lambda: {"avx512f", "amx_bf16", "amx_tile"})
    assert trainer.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(trainer, "cpu_flags", lambda: {"avx2", "avx512f"})  # bf16 would be emulated: slower
    assert trainer.resolve_precision("auto", cpu) == "fp32"
    assert trainer.resolve_precision("bf16", cpu) == "bf16"  # asked for explicitly: kept (train warns)
    assert trainer.resolve_precision("fp32", cpu) == "fp32"
    try:
        trainer.resolve_precision("fp16", cpu)
    except ConfigError as error:
        assert "needs a CUDA device" in str(error)
    else:
        raise AssertionError("fp16 on CPU was accepted")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx512f avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx512f avx512_bf16\nbugs\t\t: sysret_ss_attrs\n")
    assert trainer.cpu_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16"}
    assert trainer.cpu_flags(tmp_path / "missing") == set()


def test_auto_precision_trains_and_says_what_it_chose(tiny_project, tcli):
    done = tcli("train", "c.yaml", "train.precision=auto", "train.max_steps=4", "train.eval_every=4",
                cwd=tiny_project)
    assert done.returncode == 0, done.stderr
    chosen = trainer.resolve_precision("auto", torch.device("cpu"))
    assert f"device cpu, {chosen}," in done.stderr
    assert all(e["dev_loss"] == e["dev_loss"] for e in dev_entries(tiny_project))


def test_torch_compile_trains(tiny_project, tcli):
    done = tcli("train", "c.yaml", "train.compile=true", "train.max_steps=3", "train.eval_every=3",
                "model.dropout=0", cwd=tiny_project)
    assert done.returncode == 0, done.stderr[-3000:]


def test_fused_adamw_is_used_where_available(tiny_project, tcli):
    from translate_cli import config
    from translate_cli.core.architecture import ModelConfig
    from translate_cli.core.model import Seq2SeqTransformer
    from translate_cli.core.train.trainer import make_optimizer

    settings = config.load(tiny_project / "c.yaml")
    model = Seq2SeqTransformer(ModelConfig(vocab_size=50, d_model=16, heads=2, ff_dim=32))
    optimizer = make_optimizer(model, settings.train)
    assert optimizer.defaults.get("fused") or optimizer.defaults.get("foreach")
    settings.train.fused_optimizer = False
    assert not make_optimizer(model, settings.train).defaults.get("fused")


def test_overwrite_clears_kept_checkpoints_and_best_exists_without_scores(tiny_project, tcli):
    first = tcli("train", "c.yaml", "train.keep_checkpoints=2", "train.checkpoint_every=5",
                 "train.max_steps=20", cwd=tiny_project)
    assert first.returncode == 0
    again = tcli("train", "c.yaml", "train.keep_checkpoints=2", "train.checkpoint_every=5",
                 "train.max_steps=10", "train.best_metric=bleu", "train.eval_sentences=0", "--overwrite", cwd=tiny_project)
    assert again.returncode == 0, again.stderr
    kept = sorted(p.name for p in (tiny_project / "runs/tiny/checkpoints").iterdir())
    assert kept == ["step0000005.safetensors", "step0000010.safetensors"]
    assert (tiny_project / "runs/tiny/best/model.json").is_file()  # no BLEU measured: best is the newest


def test_subword_sampling_prepares_sampled_copies_and_trains_on_them(tiny_project, tcli):
    import numpy as np

    from translate_cli.core.data import TokenArray

    overrides = ["vocab.sampling_alpha=0.2", "vocab.sampled_copies=2", "data_dir=runs/sampled/data",
                 "work_dir=runs/sampled"]
    assert tcli("prepare", "c.yaml", *overrides, cwd=tiny_project).returncode == 0
    folder = tiny_project / "runs/sampled/data"
    fixed, first, second = (TokenArray(folder / name, np.uint16) for name in ("train.src", "train.s0.src", "train.s1.src"))
    assert len(fixed) == len(first) == len(second)
    differs = lambda a, b: sum(not np.array_equal(a[i], b[i]) for i in range(len(a)))  # noqa: E731
    assert differs(fixed, first) > len(fixed) // 4 and differs(first, second) > len(fixed) // 4
    saved = (folder / "train.s1.src.bin").read_bytes()
    assert tcli("prepare", "c.yaml", *overrides, "--force", cwd=tiny_project).returncode == 0
    assert (folder / "train.s1.src.bin").read_bytes() == saved  # sampled under the seed: reproducible
    done = tcli("train", "c.yaml", *overrides, "train.max_steps=30", "train.batch_tokens=2000", cwd=tiny_project)
    assert done.returncode == 0, done.stderr
    epochs = {json.loads(line).get("epoch") for line in (tiny_project / "runs/sampled/log.jsonl").open()}
    assert {0, 1} <= epochs  # both copies were read


def test_explicit_bf16_warns_only_without_native_bf16(tiny_project, monkeypatch, capsys):
    from translate_cli import config
    from translate_cli.steps import train

    monkeypatch.chdir(tiny_project)
    for flags, work, warned in (({"avx2", "avx512f"}, "runs/emulated", True), ({"avx512_bf16"}, "runs/native", False)):
        monkeypatch.setattr(trainer, "cpu_flags", lambda flags=flags: flags)
        train.run(config.load("c.yaml", ["train.precision=bf16", "train.max_steps=2", "train.eval_every=2",
                                         f"work_dir={work}"]))
        err = capsys.readouterr().err
        assert "device cpu, bf16," in err
        assert ("without native bf16 matrix products is slower than fp32" in err) is warned, err
