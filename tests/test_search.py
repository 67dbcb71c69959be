"""shiftlab's Optuna search: the search space from Hydra's sweep syntax, samplers and pruners
by name, and, end to end, pruned trials in the report, one study shared by two processes,
and a killed search resumed from its storage."""

from __future__ import annotations

import csv
import importlib.metadata
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from shiftlab.errors import ConfigError
from shiftlab.sweeps import search
from tests.conftest import TINY, hparams_view, run_shiftlab, shiftlab_executable

SEARCH = ["hparams_search=optuna", *TINY, "trainer.enable_progress_bar=false"]


def parsed(text: str):
    (override,) = OverridesParser.create().parse_overrides([text])
    return override.value()


def test_hydras_sweep_syntax_becomes_optuna_distributions():
    d = search.distribution
    assert d("a", parsed("a=choice(1,2,'x')")).choices == (1, 2, "x")
    assert d("a", parsed("a=x,y")).choices == ("x", "y")
    assert d("a", parsed("a=range(2,10,2)")) == optuna.distributions.IntDistribution(2, 8, step=2)
    assert d("a", parsed("a=interval(1,5)")) == optuna.distributions.FloatDistribution(1, 5)
    lr = d("a", parsed("a=tag(log, interval(1e-4, 1e-1))"))
    assert lr == optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    assert d("a", parsed("a=range(0.1,0.5,0.1)")).step == pytest.approx(0.1)


def test_samplers_pruners_and_objectives_by_name_with_clear_errors():
    assert isinstance(search.sampler({"name": "random"}, 1), optuna.samplers.RandomSampler)
    assert isinstance(search.sampler({"name": "qmc"}, 1), optuna.samplers.QMCSampler)
    assert isinstance(search.sampler({"name": "cmaes"}, 1), optuna.samplers.CmaEsSampler)
    assert isinstance(search.sampler(None, 1), optuna.samplers.TPESampler)
    assert isinstance(search.pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(search.pruner({"name": "hyperband"}), optuna.pruners.HyperbandPruner)
    assert isinstance(search.pruner(None), optuna.pruners.NopPruner)
    with pytest.raises(ConfigError, match="tpe, random, cmaes, qmc, gp"):
        search.sampler({"name": "grid"}, 1)
    with pytest.raises(ConfigError, match="none, median, percentile, successive_halving"):
        search.pruner("early")
    with pytest.raises(ConfigError, match="n_warmup_step"):
        search.pruner({"name": "median", "n_warmup_step": 2})
    goals = search.objectives("max", "val/iou", None)
    assert goals == [search.Objective("val/iou", "maximize")]
    listed = [{"metric": "val/iou", "direction": "max"}, {"metric": "x", "direction": "min"}]
    assert [g.direction for g in search.objectives("min", None, listed)] == [
        "maximize", "minimize",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="minimize or maximize"):
        search.objectives("up", "val/loss", None)


def test_the_environment_has_optuna_4_and_sqlalchemy_2_and_not_the_old_plugin():
    assert int(importlib.metadata.version("optuna").split(".")[0]) >= 4
    assert int(importlib.metadata.version("sqlalchemy").split(".")[0]) >= 2
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("hydra-optuna-sweeper")


def report_rows(sweep: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((sweep / "report.csv").open()))


@pytest.mark.slow
def test_a_pruned_search_marks_its_pruned_trials(workdir):
    run_shiftlab(
        *["train", *SEARCH, "hydra.sweeper.n_trials=6", "trainer.max_epochs=4"],
        "hydra.sweeper.pruner={name:median,n_startup_trials:1}", "hydra.sweep.dir=sweep",
        cwd=workdir,
    )  # fmt: skip
    rows = report_rows(workdir / "sweep")
    statuses = [r["status"] for r in rows]
    assert len(rows) == 6 and "pruned" in statuses and "failed" not in statuses
    for row in (r for r in rows if r["status"] == "pruned"):
        assert int(row["epochs"]) < 4 and row["objective"] != ""  # its last reported value
        assert row["test/lsd"] == ""  # a pruned trial is not tested
    markdown = (workdir / "sweep" / "report.md").read_text()
    assert "## Pruned trials" in markdown
    study = optuna.load_study(study_name="train", storage=search.open_storage(
        str(workdir / "sweep" / search.JOURNAL_NAME)))  # fmt: skip
    states = [t.state.name for t in sorted(study.trials, key=lambda t: t.number)]
    assert states == [s.replace("pruned", "PRUNED").replace("completed", "COMPLETE")
                      for s in statuses]  # fmt: skip
    best = yaml.safe_load((workdir / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_trial"] == study.best_trial.number


def start_search(workdir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*shiftlab_executable(), "train", *SEARCH, *extra],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


@pytest.mark.slow
def test_two_processes_share_one_study_without_repeating_a_trial(workdir):
    shared = ["hydra.sweeper.storage=shared/study.journal", "hydra.sweeper.study_name=shared",
              "hydra.sweep.dir=shared/sweep", "hydra.sweeper.n_trials=6"]  # fmt: skip
    processes = [start_search(workdir, *shared) for _ in range(2)]
    assert [p.wait(timeout=600) for p in processes] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=search.open_storage(
        str(workdir / "shared" / "study.journal")))  # fmt: skip
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    owners = {t.user_attrs[search.OWNER_ATTR] for t in study.trials}
    assert len(owners) == 2  # both processes ran trials
    rows = report_rows(workdir / "shared" / "sweep")
    assert sorted(int(r["job"]) for r in rows) == list(range(6))
    lrs = [r["optimizer.lr"] for r in rows]
    assert len(set(lrs)) == 6  # the two processes did not sample the same values
    # the study's own report, from its storage
    text = run_shiftlab("report", "storage=shared/study.journal", cwd=workdir).stdout
    assert "# Study shared (minimize)" in text and "6 trials: 6 complete" in text
    assert sum(line.startswith("| ") and "complete" in line for line in text.splitlines()) == 6


@pytest.mark.slow
def test_a_killed_search_resumes_from_its_storage(workdir):
    args = ["hydra.sweeper.storage=study.journal", "hydra.sweep.dir=sweep",
            "hydra.sweeper.n_trials=4", "trainer.max_epochs=40"]  # fmt: skip
    first = start_search(workdir, *args)
    journal = workdir / "study.journal"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for the second trial to start, then kill
        if journal.is_file() and (workdir / "sweep" / "1").is_dir():
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    proc = run_shiftlab("train", *SEARCH, *args[:-1], "trainer.max_epochs=2", cwd=workdir)
    output = proc.stdout + proc.stderr
    assert "Trials [1] of a search that ended without them are marked failed" in output
    study = optuna.load_study(study_name="train", storage=search.open_storage(str(journal)))
    counted = [t for t in study.trials if search.ASIDE_ATTR not in t.user_attrs]
    assert len(counted) == 4 and all(t.state.name == "COMPLETE" for t in counted)
    assert [t.number for t in study.trials if t not in counted] == [1]


def test_a_multi_objective_search_ends_with_its_pareto_front(workdir):
    objectives = ("hydra.sweeper.objectives=[{metric:val/lsd,direction:minimize},"
                  "{metric:model/parameters,direction:minimize}]")  # fmt: skip
    proc = run_shiftlab(
        "train", *SEARCH, "hydra.sweeper.n_trials=3", "trainer.max_epochs=1", objectives,
        "hydra.sweep.dir=sweep", cwd=workdir,
    )  # fmt: skip
    assert "Pareto front: trials" in proc.stdout + proc.stderr
    results = yaml.safe_load((workdir / "sweep" / "optimization_results.yaml").read_text())
    assert results["objectives"] == ["val/lsd", "model/parameters"]
    front = results["pareto_front"]
    # one network size for all: the front is the trial(s) with the lowest val/lsd
    rows = report_rows(workdir / "sweep")
    lowest = min(float(r["objective"]) for r in rows)
    assert [f["values"][0] for f in front] == [pytest.approx(lowest)] * len(front)
    assert "## Pareto front" in (workdir / "sweep" / "report.md").read_text()


@pytest.mark.slow
def test_tensorboard_hparams_show_each_trials_status(workdir):
    run_shiftlab(
        *["train", *SEARCH, "hydra.sweeper.n_trials=4", "trainer.max_epochs=3"],
        "hydra.sweeper.pruner={name:median,n_startup_trials:1}", "hydra.sweep.dir=sweep",
        cwd=workdir,
    )  # fmt: skip
    settings, metrics = hparams_view(workdir / "sweep")
    assert {"run/status", "search/trial", "optimizer/lr"} <= settings
    assert "model/parameters" in metrics


def test_a_cross_validated_search_optimises_the_mean_over_folds(workdir):
    run_shiftlab(
        "train", *SEARCH, "hydra.sweeper.n_trials=2", "hydra.sweeper.cv_folds=3",
        "trainer.max_epochs=1", "hydra.sweep.dir=sweep", cwd=workdir,
    )  # fmt: skip
    rows = report_rows(workdir / "sweep")
    assert len(rows) == 6 and sorted(r["data.fold"] for r in rows) == ["0", "0", "1", "1", "2", "2"]
    study = optuna.load_study(study_name="train", storage=search.open_storage(
        str(workdir / "sweep" / search.JOURNAL_NAME)))  # fmt: skip
    for trial in study.trials:  # trial t ran as jobs 3t, 3t + 1, 3t + 2
        folds = [float(r["objective"]) for r in rows if int(r["job"]) // 3 == trial.number]
        assert trial.value == pytest.approx(sum(folds) / 3)
    assert "## Over folds" in (workdir / "sweep" / "report.md").read_text()
