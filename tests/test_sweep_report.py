"""The sweep report from job directories as Hydra and shiftlab leave them, in every state;
the threads a parallel job gets; the Optuna direction from the monitor's mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from shiftlab.config.resolvers import optuna_direction
from shiftlab.errors import ShiftlabError
from shiftlab.sweeps.jobs import write_plan
from shiftlab.sweeps.report import build_report, rerun_command, to_markdown, write_report
from shiftlab.sweeps.threads import parallel_jobs


def make_job(sweep: Path, number: int, overrides: list[str], summary: dict | None) -> Path:
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": number}}}))
    config = {"task": {"monitor": "val/iou", "monitor_mode": "max"}}
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if summary is not None:
        (job / "metrics.json").write_text(json.dumps(summary))
    return job


def completed(monitor: str, mode: str, best: float, **test: float) -> dict:
    metrics = {f"{monitor}_best": best, monitor: best - 0.01}
    metrics.update({f"test/{k}": v for k, v in test.items()})
    return {
        "status": "completed",
        "monitor": monitor,
        "monitor_mode": mode,
        "metrics": metrics,
        "epochs": 3,
        "wall_time_s": 12.5,
        "best_checkpoint": None,
    }


def test_best_follows_the_mode_of_each_monitored_metric(tmp_path):
    make_job(tmp_path, 0, ["model=a", "lr=1"], completed("val/iou", "max", 0.5, iou=0.4))
    make_job(tmp_path, 1, ["model=b", "lr=1"], completed("val/iou", "max", 0.7, iou=0.6))
    make_job(tmp_path, 2, ["model=c", "lr=1"], completed("val/lsd", "min", 9.0, lsd=9.5))
    make_job(tmp_path, 3, ["model=d", "lr=1"], completed("val/lsd", "min", 8.0, lsd=8.5))
    report = build_report(tmp_path)
    assert {m: j.number for m, j in report.best.items()} == {"val/iou": 1, "val/lsd": 3}
    assert report.swept_keys == ["model"] and report.fixed_overrides == ["lr=1"]
    markdown = to_markdown(report)
    assert "| 1 ★ | completed | b | val/iou | 0.7 |" in markdown  # two monitors: a column each
    assert "| 0 | completed | a | val/iou | 0.5 |" in markdown


def test_every_state_of_a_job_is_reported(tmp_path):
    write_plan(tmp_path, [["lr=1"], ["lr=2"], ["lr=3"], ["lr=4"], ["lr=5"]])
    make_job(tmp_path, 0, ["lr=1"], completed("val/iou", "max", 0.5))
    make_job(tmp_path, 1, ["lr=2"], {"status": "failed", "error": "OutOfMemoryError: CUDA"})
    make_job(tmp_path, 2, ["lr=3"], None)  # started, nothing written yet (or killed)
    half = make_job(tmp_path, 3, ["lr=4"], None)
    (half / "metrics.json").write_text('{"status": "compl')  # being written right now
    report, csv_path, md_path = write_report(tmp_path)
    assert [j.status for j in report.jobs] == [
        "completed",
        "failed",
        "unfinished",
        "unfinished",
        "not started",
    ]
    assert report.jobs[2].monitor == "val/iou"  # known from the job's config before it ends
    assert report.jobs[4].overrides == ["lr=5"]
    assert report.summary_line() == "5 jobs: 1 completed, 1 failed, 1 not started, 2 unfinished"
    text = md_path.read_text()
    assert "- job 1: OutOfMemoryError: CUDA" in text
    assert "shiftlab train lr=1" in text
    assert csv_path.read_text().splitlines()[0].startswith("job,status,best,lr,monitor,objective")


def test_seed_sweeps_are_aggregated_per_configuration(tmp_path):
    values = {("a", 1): 0.5, ("a", 2): 0.7, ("b", 1): 0.2, ("b", 2): 0.2}
    for number, ((model, seed), value) in enumerate(values.items()):
        summary = completed("val/iou", "max", value, iou=value)
        make_job(tmp_path, number, [f"model={model}", f"seed={seed}"], summary)
    make_job(tmp_path, 4, ["model=b", "seed=3"], {"status": "failed", "error": "x"})
    section = to_markdown(build_report(tmp_path)).split("## Over seeds")[1]
    assert "| model | seeds | objective (mean ± std) | test/iou |" in section
    assert "| a | 2/2 | 0.6 ± 0.1414 | 0.6 ± 0.1414 |" in section
    assert "| b | 2/3 | 0.2 ± 0 | 0.2 ± 0 |" in section


def test_rerun_command_quotes_for_the_shell_and_runs_one_trial_of_a_search(tmp_path):
    job = make_job(tmp_path, 0, ["model.channels=[4,8]", "hparams_search=optuna"], None)
    report = build_report(job.parent)
    assert rerun_command(report.jobs[0]) == (
        "shiftlab train 'model.channels=[4,8]' hparams_search=optuna hydra.mode=RUN"
    )


def test_a_directory_without_jobs_is_named_in_the_error(tmp_path):
    with pytest.raises(ShiftlabError, match="holds no jobs of a sweep"):
        build_report(tmp_path)
    with pytest.raises(ShiftlabError, match="No sweep directory at"):
        build_report(tmp_path / "missing")


@pytest.mark.parametrize(
    ("launcher", "cores", "batch", "parallel"),
    [
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 8, 4, 1),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.JoblibLauncher", "n_jobs": 2}, 8, 4, 2),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.JoblibLauncher", "n_jobs": -1}, 8, 4, 4),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.JoblibLauncher", "n_jobs": -1}, 2, 9, 2),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.JoblibLauncher", "n_jobs": -2}, 8, 9, 7),
        ({"_target_": "hydra_plugins.hydra_submitit_launcher.LocalLauncher"}, 8, 3, 3),
    ],
)
def test_parallel_jobs_counts_what_runs_at_once(launcher, cores, batch, parallel):
    assert parallel_jobs(OmegaConf.create(launcher), cores, batch) == parallel


def test_optuna_direction_follows_the_monitor_mode():
    assert optuna_direction("min") == "minimize"
    assert optuna_direction("max") == "maximize"
    with pytest.raises(
        ValueError, match=r"task\.monitor_mode='minimum' is not valid: it must be 'min' or 'max'"
    ):
        optuna_direction("minimum")


def test_a_multi_objective_search_reports_its_pareto_front(tmp_path):
    sweep = tmp_path / "sweep"
    objectives = [{"metric": "val/iou", "direction": "maximize"},
                  {"metric": "model/parameters", "direction": "minimize"}]  # fmt: skip
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"sweeper": {
        "objectives": objectives}}}))  # fmt: skip
    # (iou, parameters): 1 and 2 trade off; 0 is beaten by 1 on both; 3 failed
    for number, (iou, size) in enumerate([(0.5, 2000), (0.6, 1000), (0.8, 5000)]):
        summary = completed("val/iou", "max", iou)
        summary["metrics"]["model/parameters"] = size
        make_job(sweep, number, [f"model.width={number}"], summary)
    make_job(sweep, 3, ["model.width=3"], {"status": "failed", "error": "boom"})
    report = build_report(sweep)
    assert [job.number for job in report.pareto] == [1, 2]
    markdown = to_markdown(report)
    assert "## Pareto front" in markdown
    assert "| job | val/iou (maximize) | model/parameters (minimize) |" in markdown
    assert "| 1 | 0.6 | 1000 |" in markdown and "| 2 | 0.8 | 5000 |" in markdown
