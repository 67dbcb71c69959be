"""Notes played by sampled instruments: a MIDI file written here, rendered by TiMidity++ with
the Freepats sample set (recordings of real pianos, guitars, strings, winds; Debian's
``timidity`` and ``freepats``, which ``.ci/run`` installs), cut into one wav per note, and a
CSV of each note's pitch from its MIDI number (A4 = 440 Hz)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np

FREEPATS_CONFIG = Path("/etc/timidity/freepats.cfg")
# General MIDI programs Freepats has samples for: piano, nylon and steel guitar, acoustic
# bass, violin, cello, trumpet, alto sax, oboe, clarinet, flute.
PROGRAMS = (0, 24, 25, 32, 40, 42, 56, 65, 68, 71, 73)
TICKS_PER_SECOND = 960  # 480 ticks per quarter note at the default 120 beats per minute


def available() -> bool:
    return shutil.which("timidity") is not None and FREEPATS_CONFIG.is_file()


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def render_notes(
    folder: Path,
    notes: list[tuple[int, int]],
    seconds: float = 1.0,
    sample_rate: int = 16_000,
) -> Path:
    """Write ``folder/<k>_program<p>_note<n>.wav`` for the k-th (GM program, MIDI note) and
    ``folder/labels.csv`` (``file,f0,program``); returns the CSV's path."""
    folder.mkdir(parents=True, exist_ok=True)
    slot = seconds + 0.5  # each note sounds for ``seconds``, then half a second of release
    midi = folder / "notes.mid"
    midi.write_bytes(_midi_file(notes, seconds, slot))
    rendered = folder / "notes_rendered.wav"
    subprocess.run(
        ["timidity", "-c", str(FREEPATS_CONFIG), "-Ow", "--output-mono", "-s",
         str(sample_rate), "-o", str(rendered), str(midi)],
        check=True, capture_output=True,
    )  # fmt: skip
    import soundfile

    audio, rate = soundfile.read(str(rendered), dtype="float32")
    rendered.unlink()
    midi.unlink()
    rows = []
    for k, (program, note) in enumerate(notes):
        start = int(k * slot * rate)
        piece = audio[start : start + int(seconds * rate)]
        piece = piece / max(float(np.abs(piece).max()), 1e-6) * 0.8
        name = f"{k:03d}_program{program:03d}_note{note:03d}.wav"
        soundfile.write(str(folder / name), piece, rate)
        rows.append((name, f"{midi_hz(note):.3f}", program))
    labels = folder / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "f0", "program"])
        writer.writerows(rows)
    return labels


def _midi_file(notes: list[tuple[int, int]], seconds: float, slot: float) -> bytes:
    """A format-0 Standard MIDI File playing the notes one after another, each on channel 0
    after its program change."""
    events = bytearray()
    last = 0
    for k, (program, note) in enumerate(notes):
        on = round(k * slot * TICKS_PER_SECOND)
        off = round((k * slot + seconds) * TICKS_PER_SECOND)
        events += _vlq(on - last) + bytes([0xC0, program])
        events += _vlq(0) + bytes([0x90, note, 100])
        events += _vlq(off - on) + bytes([0x80, note, 0])
        last = off
    events += _vlq(TICKS_PER_SECOND // 2) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1]) + (480).to_bytes(2, "big")
    return header + b"MTrk" + len(events).to_bytes(4, "big") + bytes(events)


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
