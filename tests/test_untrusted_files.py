"""Files a user did not write never run code nor lead outside their folder: pickles under a
NumPy name, pickled object arrays, archive members, paths in a CSV, and the configs stored
in checkpoints (which eval, predict and export build again)."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest

from shiftlab.data.classification_modules import ImageCSV
from shiftlab.data.npy_reader import read_spectrograms
from shiftlab.errors import DataError, ShiftlabError
from shiftlab.run.checkpoints import check_stored_targets
from tests.conftest import run_shiftlab
from tests.helpers import write_class_folders, write_npy_dataset


class Payload:
    """Unpickling this creates the file ``marker``: the side effect any pickled code could have."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def one_paragraph(proc) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    return output


@pytest.mark.parametrize("allow_pickle", ["false", "true"])
def test_a_pickle_saved_as_npy_never_runs(workdir, allow_pickle):
    marker = workdir / "pwned"
    (workdir / "payload.npy").write_bytes(pickle.dumps(Payload(str(marker))))
    _, clean = write_npy_dataset(workdir, [12] * 6, freq_bins=32, layout="stack")
    proc = run_shiftlab(
        "train", "data=spectrogram_npy", "data.train_data_path=payload.npy",
        f"data.segmented_data_path={clean}", "data.freq_bins=32",
        f"data.allow_pickle={allow_pickle}", "trainer.max_epochs=1",
        cwd=workdir, check=False,
    )  # fmt: skip
    output = one_paragraph(proc)
    assert "data.train_data_path: payload.npy is not a NumPy .npy file" in output
    assert "shiftlab never unpickles such files" in output
    assert not marker.exists()  # the payload never ran, not even with allow_pickle=true


def test_a_pickled_object_array_is_read_only_when_the_user_allows_it(tmp_path):
    marker = tmp_path / "pwned"
    hostile = np.empty(2, dtype=object)
    hostile[:] = [np.zeros((4, 3)), Payload(str(marker))]
    np.save(tmp_path / "hostile.npy", hostile, allow_pickle=True)
    with pytest.raises(DataError) as err:
        read_spectrograms(tmp_path / "hostile.npy", "data.train_data_path")
    assert "holds a pickled object array" in str(err.value)
    assert "add data.allow_pickle=true" in str(err.value) and "one .npz" in str(err.value)
    assert not marker.exists()
    # the user's own pickled file, with their consent: read as before
    bone, _ = write_npy_dataset(tmp_path / "own", [3, 5, 4], freq_bins=8, layout="sequence")
    read = read_spectrograms(bone, "data.train_data_path", allow_pickle=True)
    assert [a.shape for a in read.arrays] == [(8, 3), (8, 5), (8, 4)]


def test_npz_members_are_read_in_memory_never_extracted(tmp_path):
    import zipfile

    archive = tmp_path / "inside" / "bone.npz"
    archive.parent.mkdir()
    np.savez(archive, np.ones((4, 3), dtype=np.float32))
    with zipfile.ZipFile(archive, "a") as z, z.open("../../escaped.npy", "w") as member:
        np.lib.format.write_array(member, np.zeros((4, 5), dtype=np.float32))
    read = read_spectrograms(archive, "data.train_data_path")
    assert [a.shape for a in read.arrays] == [(4, 3), (4, 5)]
    assert read.sources == ["bone.npz[arr_0]", "bone.npz[../../escaped]"]
    assert not list(tmp_path.rglob("escaped*"))


def test_a_damaged_npz_gets_one_paragraph(tmp_path):
    np.savez(tmp_path / "bone.npz", np.ones((4, 3)))
    (tmp_path / "bone.npz").write_bytes((tmp_path / "bone.npz").read_bytes()[:60])
    with pytest.raises(DataError, match=r"data\.train_data_path: cannot read .*bone\.npz"):
        read_spectrograms(tmp_path / "bone.npz", "data.train_data_path")


@pytest.mark.parametrize("name", ["../outside.png", "/etc/hostname", "sub/../../outside.png"])
def test_csv_rows_cannot_name_files_outside_the_images_folder(tmp_path, name):
    images = write_class_folders(tmp_path / "images", classes=("a",), per_class=2)
    write_class_folders(tmp_path / "elsewhere", classes=("b",), per_class=1)
    with (tmp_path / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([["files", "type"], ["a/a_0.png", "a"], [name, "b"]])
    data = ImageCSV(images_dir=str(images), csv_path=str(tmp_path / "labels.csv"))
    with pytest.raises(DataError) as err:
        data.setup()
    assert f"labels.csv line 3 names {name!r}, which is not a file inside data.images_dir" in str(
        err.value
    )


def test_a_stored_config_builds_only_trusted_classes(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    good = {
        "model": {"_target_": "shiftlab.models.TSConvUNet", "layers": [
            {"_target_": "torch.nn.Conv2d"}, {"_target_": "torch.nn.ReLU"}]},
        "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True},
        "trainer": {"plugins": [{"_target_": "shiftlab.checkpoint_io.AtomicCheckpointIO"}]},
    }  # fmt: skip
    checked = check_stored_targets(good, path)
    # a target of an earlier version is read under its current name
    assert checked["trainer"]["plugins"][0]["_target_"] == (
        "shiftlab.run.checkpoint_io.AtomicCheckpointIO"
    )
    for target in ("os.system", "builtins.eval", "shiftlab.run.summary.write_json",
                   "torch.load", "mypackage.MyNet"):  # fmt: skip
        with pytest.raises(ShiftlabError, match=f"asks to build '{target}'"):
            check_stored_targets({"data": {"_target_": target, "command": "touch x"}}, path)
    monkeypatch.setenv("SHIFTLAB_TRUSTED_TARGETS", "mypackage")
    check_stored_targets({"model": {"_target_": "mypackage.MyNet"}}, path)


def test_eval_of_a_checkpoint_with_a_hostile_config_runs_nothing(workdir):
    import torch

    marker = workdir / "pwned"
    config = {"data": {"_target_": "os.system", "command": f"touch {marker}"}}
    entry = {"kind": "regression", "config": config, "version": "0.1.0"}
    torch.save({"shiftlab": entry, "state_dict": {}}, workdir / "hostile.ckpt")
    for command in (["eval"], ["predict", "input=."], ["export"]):
        proc = run_shiftlab(*command, "ckpt_path=hostile.ckpt", cwd=workdir, check=False)
        output = one_paragraph(proc)
        assert "hostile.ckpt asks to build 'os.system'" in output, command
        assert not marker.exists()
