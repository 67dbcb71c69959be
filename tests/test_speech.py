"""Speech enhancement's pieces: the STFT front-end, reading and resampling recordings,
pairing and its errors, chunked prediction, and the waveform metrics against reference
values."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import soundfile
import torch

from shiftlab.data.audio import read_audio, resample
from shiftlab.data.degradation import Degradation
from shiftlab.data.speech_modules import SpeechSynth, SpeechWav
from shiftlab.data.stft import STFT, features, waveform
from shiftlab.data.synthetic_voice import VoiceSynthesis
from shiftlab.errors import ConfigError, DataError
from shiftlab.inference.inputs import SpeechFiles
from shiftlab.models import TSConvUNet
from shiftlab.tasks.speech_enhancement import SpeechEnhancement
from shiftlab.tasks.speech_metrics import si_sdr, stoi

RATE = 16_000


def voice(index: int = 0) -> np.ndarray:
    return VoiceSynthesis(RATE, 1.0, 1.5).utterance(7, index)


@pytest.mark.parametrize("length", [510, 4_000, 16_001, 23_456])
@pytest.mark.parametrize("scale", ["log10_magnitude", "db", "magnitude"])
def test_stft_round_trip_gives_the_waveform_back(length, scale):
    x = np.random.default_rng(length).normal(scale=0.2, size=length).astype(np.float32)
    stft = STFT(510, 128)
    values, phase = features(stft, x, scale)
    assert values.shape == phase.shape == (256, stft.frames(length))
    assert np.abs(waveform(stft, values, phase, scale, length) - x).max() < 1e-4


def test_an_identity_network_gives_the_degraded_recording_back():
    class Identity(torch.nn.Module):
        output = "dense"

        def forward(self, x):
            return x

    task = SpeechEnhancement(Identity(), functools.partial(torch.optim.Adam), standardize=False)
    noisy = Degradation()(voice(), RATE, np.random.default_rng(0))
    values, phase = features(task.stft, noisy, task.scale)
    with torch.no_grad():
        out = task(torch.from_numpy(values)[None, None]).numpy()[0, 0]
    assert np.abs(task.enhanced_waveform(out, phase, len(noisy)) - noisy).max() < 1e-4


def test_a_recording_at_another_rate_is_resampled_and_several_channels_mixed(tmp_path):
    t = np.arange(int(0.5 * 44_100)) / 44_100
    tone = 0.5 * np.sin(2 * np.pi * 1_000 * t)
    soundfile.write(tmp_path / "stereo.wav", np.stack([tone, 0 * tone], axis=1), 44_100)
    recording = read_audio(tmp_path / "stereo.wav", RATE)
    assert (recording.file_rate, recording.file_frames) == (44_100, len(t))
    assert len(recording.samples) == round(len(t) * RATE / 44_100)
    assert abs(np.abs(recording.samples).max() - 0.25) < 0.01  # the mean of both channels
    spectrum = np.abs(np.fft.rfft(recording.samples))
    assert abs(np.argmax(spectrum) * RATE / len(recording.samples) - 1_000) < 5
    back = resample(recording.samples, RATE, 44_100)
    assert len(back) == len(t)


def write_pairs(root, names, rate=RATE):
    for side in ("noisy", "clean"):
        for i, name in enumerate(names):
            path = root / side / f"{name}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            wave = voice(i) if side == "clean" else 0.5 * voice(i)
            soundfile.write(path, wave, rate)
    return root / "noisy", root / "clean"


def test_pairs_by_path_below_each_folder_and_writes_the_split(tmp_path):
    noisy, clean = write_pairs(tmp_path, ["spk1/a", "spk1/b", "spk2/a", "spk2/c", "d", "e"])
    data = SpeechWav(targets=str(clean), inputs=str(noisy), val_fraction=0.2, test_fraction=0.2,
                     splits_file=str(tmp_path / "splits.csv"), segment_frames=16)  # fmt: skip
    data.setup()
    assert [name for _, _, name in data.pairs] == ["d", "e", "spk1/a", "spk1/b", "spk2/a", "spk2/c"]
    assert {len(data.datasets[s]) for s in ("val", "test")} == {1}
    batch = next(iter(data.train_dataloader()))
    assert batch["input"].shape == (4, 1, 256, 16) and batch["clean"].shape[0] == 4
    rows = (tmp_path / "splits.csv").read_text().splitlines()
    assert rows[0] == "index,split,input,target,seconds" and len(rows) == 7


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("unpaired", "2 recordings have no partner: spk1/b, x"),
        ("not audio", "Cannot read"),
        ("empty", "holds no samples"),
        ("silent", "is silent"),
        ("too short", r"c\.wav is 100 samples long at 16000 Hz, shorter than one analysis frame"),
        ("no audio", "holds no audio files"),
    ],
)
def test_bad_recordings_get_one_paragraph_naming_the_file(tmp_path, damage, message):
    noisy, clean = write_pairs(tmp_path, ["spk1/a", "spk1/b", "c", "d", "e"])
    if damage == "unpaired":
        (noisy / "spk1" / "b.wav").unlink()
        soundfile.write(noisy / "x.wav", voice(), RATE)
    elif damage == "not audio":
        (clean / "c.wav").write_text("this is text, not sound")
    elif damage == "empty":
        soundfile.write(clean / "c.wav", np.zeros(0), RATE)
    elif damage == "silent":
        soundfile.write(clean / "c.wav", np.zeros(8000), RATE)
        soundfile.write(noisy / "c.wav", np.zeros(8000), RATE)
    elif damage == "too short":
        soundfile.write(clean / "c.wav", 0.1 * np.ones(100), RATE)
    else:
        for path in clean.rglob("*.wav"):
            path.unlink()
    data = SpeechWav(targets=str(clean), inputs=str(noisy), val_fraction=0.2, test_fraction=0.2)
    with pytest.raises(DataError, match=message):
        data.setup()
        for split in ("train", "val", "test"):
            for i in range(len(data.datasets[split])):
                data.datasets[split][i]


def test_several_crops_of_each_recording_make_an_epoch():
    data = SpeechSynth(num_train=3, num_val=1, num_test=1, crops_per_item=4, max_seconds=1.2)
    data.setup()
    train = data.datasets["train"]
    assert len(train) == 12 and len(data.train_dataloader()) == 1  # batch 16
    crops = [train[(position, 0)]["input"] for position in (0, 3, 6)]  # item 0, three times
    assert all(c.shape == (1, 256, 64) for c in crops)
    assert not torch.equal(crops[0], crops[1]) and not torch.equal(crops[1], crops[2])


def test_degradation_follows_seed_epoch_and_item():
    data = SpeechSynth(num_train=2, num_val=1, num_test=1, seed=3, max_seconds=1.2)
    same = [data.load_pair(0, epoch=1)[0] for _ in range(2)]
    assert np.array_equal(same[0], same[1])
    assert not np.array_equal(data.load_pair(0, epoch=2)[0], same[0])
    with pytest.raises(ConfigError, match=r"degradation.snr_db=\[30, 10\]: the range is"):
        SpeechSynth(degradation={"snr_db": [30, 10]})


def test_chunked_prediction_equals_whole_file_prediction_in_the_interior():
    net = TSConvUNet(in_channels=1, out_channels=1, channels=[4, 4, 8, 8], freq_bins=256).eval()
    config = {"data": {"n_fft": 510, "hop_length": 128, "sample_rate": RATE, "freq_bins": 256,
                       "in_channels": 1}}  # fmt: skip
    reader = SpeechFiles("speech_enhancement", config, {}, chunk_frames=64, chunk_overlap=32)
    values, _ = features(reader.stft, np.concatenate([voice(i) for i in range(3)]), reader.scale)
    chunks, cores = reader.split(values)
    assert chunks.shape[1:] == (1, 256, 64) and len(chunks) > 4
    with torch.no_grad():
        whole = net(torch.from_numpy(values)[None, None]).numpy()[0, 0]
        outputs = net(torch.from_numpy(chunks)).numpy()
    stitched = np.empty_like(values)
    for chunk, (first, last, offset) in zip(outputs, cores, strict=True):
        stitched[:, first:last] = chunk[0][:, offset : offset + last - first]
    assert np.abs(stitched - whole).max() < 1e-4


def test_waveform_metrics_against_reference_values():
    rng = np.random.default_rng(0)
    reference = voice(1).astype(np.float64)
    noise = rng.normal(size=len(reference))
    noise -= noise.mean()
    reference -= reference.mean()
    noise -= np.dot(noise, reference) / np.dot(reference, reference) * reference  # orthogonal
    for snr in (0.0, 10.0, 20.0):
        scaled = noise * np.sqrt(
            np.dot(reference, reference) / np.dot(noise, noise) / 10 ** (snr / 10)
        )
        assert si_sdr(reference + scaled, reference) == pytest.approx(snr, abs=1e-6)
        assert si_sdr(3.0 * (reference + scaled), reference) == pytest.approx(snr, abs=1e-6)
    assert stoi(reference, reference, RATE) == pytest.approx(1.0, abs=1e-6)
    noisy = [stoi(reference, reference + noise * level, RATE) for level in (0.01, 0.1, 1.0)]
    assert noisy[0] > noisy[1] > noisy[2]
    assert np.isnan(stoi(reference[:1000], reference[:1000], RATE))  # too short for STOI
