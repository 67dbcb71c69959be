"""k-fold cross-validation: fold assignment (disjoint, covering, stratified, grouped), the
test split held out and the same in every fold, every data option's folds, and a 5-fold
sweep on image folders with its mean ± std table."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from shiftlab.data.splits import Folds, fold_assignment
from shiftlab.errors import ConfigError, DataError
from tests.conftest import run_shiftlab
from tests.helpers import write_class_folders, write_npy_dataset, write_segmentation_folders


def test_folds_are_disjoint_covering_and_even():
    pool = list(range(3, 50))
    assignment = fold_assignment(pool, 5, seed=0)
    assert sorted(assignment) == pool
    sizes = Counter(assignment.values())
    assert set(sizes) == set(range(5)) and max(sizes.values()) - min(sizes.values()) <= 1
    assert fold_assignment(pool, 5, seed=0) == assignment  # reproducible
    assert fold_assignment(pool, 5, seed=1) != assignment


def test_folds_are_stratified_by_class():
    labels = [0] * 30 + [1] * 12 + [2] * 8
    assignment = fold_assignment(list(range(50)), 4, seed=3, labels=labels)
    for label in (0, 1, 2):
        per_fold = Counter(assignment[i] for i in range(50) if labels[i] == label)
        assert max(per_fold.values()) - min(per_fold.values()) <= 1, (label, per_fold)
    sizes = Counter(assignment.values()).values()
    assert max(sizes) - min(sizes) <= 1


def test_groups_never_straddle_folds():
    names = [f"spk{i % 7}_utt{i}.wav" for i in range(60)]
    folds = Folds(num_folds=3, fold=1, seed=0, group_by=r"^(spk\d+)_")
    groups = folds.groups(names, None)
    assignment = fold_assignment(list(range(60)), 3, 0, groups=groups)
    for group in set(groups):
        assert len({assignment[i] for i in range(60) if groups[i] == group}) == 1
    # a CSV column names groups as well as a pattern does
    column = Folds(3, 0, 0, "speaker").groups(names, {"speaker": [n[:4] for n in names]})
    assert column == groups


def test_the_test_split_stays_and_train_and_val_are_the_folds():
    splits = {"train": list(range(0, 40)), "val": list(range(40, 50)), "test": [50, 51, 52]}
    names = [str(i) for i in range(53)]
    vals = []
    for fold in range(5):
        folded = Folds(5, fold, 0).apply(dict(splits), names)
        assert folded["test"] == [50, 51, 52]
        assert sorted(folded["train"] + folded["val"]) == list(range(50))
        assert not set(folded["train"]) & set(folded["val"])
        vals.append(set(folded["val"]))
    assert set().union(*vals) == set(range(50)) and sum(map(len, vals)) == 50
    assert Folds().apply(dict(splits), names) == splits  # no folds: unchanged


def test_fold_settings_that_cannot_work_say_so():
    with pytest.raises(ConfigError, match=r"data.fold=5 with data.num_folds=5: a fold is 0 to 4"):
        Folds(5, 5, 0)
    with pytest.raises(ConfigError, match="at least 2 folds"):
        Folds(1, 0, 0)
    with pytest.raises(ConfigError, match=r"set data\.num_folds too"):
        Folds(None, 0, 0, "^(spk)")
    with pytest.raises(DataError, match=r"does not match the sample 'other\.wav'"):
        Folds(3, 0, 0, r"^spk\d").groups(["spk1.wav", "other.wav"], None)
    with pytest.raises(DataError, match=r"leaves no validation.*lower data\.num_folds"):
        Folds(5, 3, 0).apply({"train": [0, 1], "val": [], "test": [2]}, ["a", "b", "c"])


def split_sets(module) -> dict[str, set[int]]:
    """The sample indices of each split of a data module, read the way it sets itself up."""
    from shiftlab.data.spectrogram_modules import SpectrogramDataModule

    if isinstance(module, SpectrogramDataModule):
        return {s: set(d.indices) for s, d in module.load_splits().items()}
    if hasattr(module, "split_indices"):
        return {s: set(v) for s, v in module.split_indices().items()}
    return {s: set(v) for s, v in module._complete_splits(module.load()).items()}


def data_modules(tmp_path: Path, num_folds: int, fold: int) -> dict:
    import soundfile

    from shiftlab.data import (
        AudioCSV,
        DrumsSynth,
        ImageFolder,
        SegmentationFolders,
        ShapesSynth,
        SpectrogramNpy,
        SpectrogramSynth,
        SpeechSynth,
        SpeechWav,
        TonesSynth,
    )  # fmt: skip
    from shiftlab.data.synthetic_voice import VoiceSynthesis

    if not (tmp_path / "images").exists():
        write_class_folders(tmp_path / "images", per_class=10, size=(8, 8))
        write_npy_dataset(tmp_path / "npy", [8] * 30, freq_bins=16)
        write_segmentation_folders(tmp_path / "seg", count=20, size=(16, 16))
        (tmp_path / "wav").mkdir()
        rows = ["file,f0"]
        for i in range(20):
            soundfile.write(tmp_path / "wav" / f"{i}.wav", VoiceSynthesis().utterance(1, i), 16000)
            rows.append(f"{i}.wav,{100 + i}")
        (tmp_path / "wav" / "labels.csv").write_text("\n".join(rows) + "\n")
    x, y = tmp_path / "npy" / "bone.npz", tmp_path / "npy" / "clean.npz"
    small = {"num_train": 16, "num_val": 4, "num_test": 4}
    folds = {"num_folds": num_folds, "fold": fold}
    return {
        "image_folder": ImageFolder(root=str(tmp_path / "images"), image_size=(8, 8), **folds),
        "spectrogram_npy": SpectrogramNpy(str(x), str(y), freq_bins=16, **folds),
        "spectrogram_synth": SpectrogramSynth(**small, **folds),
        "segmentation_folders": SegmentationFolders(str(tmp_path / "seg"), num_classes=3, **folds),
        "shapes_synth": ShapesSynth(**small, size=16, **folds),
        "speech_wav": SpeechWav(targets=str(tmp_path / "wav"), **folds),
        "speech_synth": SpeechSynth(**small, **folds),
        "audio_csv": AudioCSV(
            root=str(tmp_path / "wav"),
            csv_path=str(tmp_path / "wav" / "labels.csv"),
            target_columns=["f0"],
            **folds,
        ),
        "drums_synth": DrumsSynth(**small, **folds),
        "tones_synth": TonesSynth(**small, **folds),
    }


def test_every_data_option_folds_its_train_and_val_and_keeps_its_test(tmp_path):
    by_fold = [data_modules(tmp_path, 3, fold) for fold in range(3)]
    for name in by_fold[0]:
        splits = [split_sets(modules[name]) for modules in by_fold]
        tests = [s["test"] for s in splits]
        assert all(t == tests[0] and t for t in tests), name
        pool = splits[0]["train"] | splits[0]["val"]
        vals = [s["val"] for s in splits]
        assert sum(map(len, vals)) == len(pool) and set().union(*vals) == pool, name
        for s in splits:
            assert not s["train"] & s["val"] and s["train"] | s["val"] == pool, name
            assert not (s["train"] | s["val"]) & s["test"], name


@pytest.mark.slow
def test_a_five_fold_sweep_on_image_folders_reports_mean_and_std(workdir):
    write_class_folders(workdir / "images", classes=("cat", "dog", "owl"), per_class=12,
                        size=(16, 16))  # fmt: skip
    run_shiftlab(
        "train", "-m", "data=image_folder", "data.root=images", "data.num_folds=5",
        "data.fold=range(5)", "data.image_size=[16,16]", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false", "hydra.sweep.dir=sweep", cwd=workdir,
    )  # fmt: skip
    sweep = workdir / "sweep"
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert sorted(r["data.fold"] for r in rows) == ["0", "1", "2", "3", "4"]
    assert all(r["status"] == "completed" for r in rows)
    markdown = (sweep / "report.md").read_text()
    assert "## Over folds (mean ± sample standard deviation)" in markdown
    accuracies = [float(r["test/accuracy"]) for r in rows]
    mean, std = np.mean(accuracies), np.std(accuracies, ddof=1)
    assert "| 5/5 | " in markdown and f"{mean:.4g} ± {std:.4g}" in markdown
    splits = [list(csv.DictReader((sweep / str(k) / "splits.csv").open())) for k in range(5)]
    tests = [{r["name"] for r in s if r["split"] == "test"} for s in splits]
    assert all(t == tests[0] for t in tests) and tests[0]
    vals = [{r["name"] for r in s if r["split"] == "val"} for s in splits]
    assert sum(map(len, vals)) == len(set().union(*vals)) == 36 - len(tests[0])
    for s in splits:  # each fold's validation is stratified: every class in it
        assert {r["class"] for r in s if r["split"] == "val"} == {"cat", "dog", "owl"}
