"""The `shiftlab` command as a user types it: subcommands, Hydra flags, fast start-up, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import CONF, run_shiftlab, shiftlab_executable


def test_top_level_help_lists_the_subcommands(workdir):
    out = run_shiftlab("--help", cwd=workdir).stdout
    assert "usage: shiftlab <command>" in out
    assert "train" in out and "fit a model" in out


def test_version(workdir):
    out = run_shiftlab("--version", cwd=workdir).stdout
    assert out.startswith("shiftlab 0.")


def test_unknown_subcommand_suggests_the_nearest(workdir):
    proc = run_shiftlab("trian", cwd=workdir, check=False)
    assert proc.returncode == 2
    assert "unknown command 'trian'. Did you mean 'train'?" in proc.stderr


def test_train_help_lists_groups_and_options(workdir):
    out = run_shiftlab("train", "--help", cwd=workdir).stdout
    assert "shiftlab train" in out
    for group in ("model", "data", "task", "optimizer", "scheduler", "trainer", "experiment"):
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in out


def test_cfg_job_prints_the_composed_config_with_overrides(workdir):
    out = run_shiftlab(
        "train",
        "--cfg",
        "job",
        "model=conv_unet",
        "optimizer=sgd",
        "optimizer.lr=0.05",
        "+trainer.limit_train_batches=3",
        "~callbacks.early_stopping",
        cwd=workdir,
    ).stdout
    assert "block_conv: conv" in out
    assert "_target_: torch.optim.SGD" in out and "lr: 0.05" in out
    assert "limit_train_batches: 3" in out
    assert "early_stopping" not in out
    assert "freq_bins: ${oc.select:data.freq_bins,null}" in out
    assert not (workdir / "outputs").exists()  # printing a config runs nothing


def test_resolve_flag_resolves_interpolations(workdir):
    out = run_shiftlab(
        "train", "--cfg", "job", "--resolve", "data.freq_bins=128", cwd=workdir
    ).stdout
    assert "freq_bins: 128" in out and "${data.freq_bins}" not in out


def test_info_flag(workdir):
    out = run_shiftlab("train", "--info", "searchpath", cwd=workdir).stdout
    assert "Config search path" in out


def test_python_dash_m_works_too(workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "shiftlab", "train", "--cfg", "job", "model=conv_unet"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "block_conv: conv" in proc.stdout


def test_composing_and_help_do_not_import_torch(workdir):
    for args in (
        ["train", "--cfg", "job"],
        ["train", "experiment=pitch_crepe", "--cfg", "job"],
        ["train", "--help"],
        ["--help"],
    ):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "shiftlab", *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        heavy = sorted(m for m in imported if m.split(".")[0] in {"torch", "lightning", "numpy"})
        assert not heavy, f"`shiftlab {' '.join(args)}` imported {heavy[:5]}"


def test_shell_completion_for_commands_groups_and_options(workdir):
    def complete(line: str) -> list[str]:
        return run_shiftlab(
            "-sc", "query=bash", cwd=workdir, env={"COMP_LINE": line}
        ).stdout.split()

    assert complete("shiftlab tr") == ["train"]
    assert "model=" in complete("shiftlab train mod")
    assert complete("shiftlab train model=ts") == ["model=tsconv_unet"]
    assert "model=smp_unet" in complete("shiftlab train model=")
    assert "optimizer=adamw" in complete("shiftlab train optimizer=ada")
    script = run_shiftlab("-sc", "install=bash", cwd=workdir).stdout
    assert "complete -o nospace -o default -F hydra_bash_completion shiftlab" in script
    assert shiftlab_executable()


def test_quick_help_is_hydras_help_with_the_overrides(workdir):
    """`shiftlab train --help` lists groups from conf/ itself (Hydra's listing takes ~1.5 s);
    the text must stay exactly what Hydra's own --help prints, overrides applied."""
    ours = run_shiftlab("train", "model=conv_unet", "--help", cwd=workdir).stdout
    hydras = subprocess.run(
        [sys.executable, "-c", "import sys; from shiftlab.cli.train import main; "
         "sys.argv = ['shiftlab', 'model=conv_unet', '--help']; main()"],
        cwd=workdir, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert ours == hydras
    assert "model: conv_unet, crepe, fashion_cnn," in ours and "block_conv: conv" in ours


@pytest.mark.parametrize("words", ["train --help", "train --cfg job", "predict --help"])
def test_output_piped_into_head_ends_quietly(words, workdir):
    command = f"{' '.join(shiftlab_executable())} {words} | head -n 1"
    proc = subprocess.run(command, shell=True, cwd=workdir, capture_output=True, text=True)
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
