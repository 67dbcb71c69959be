"""keep_freed_memory: glibc reuses freed blocks instead of faulting in fresh pages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shiftlab.run.allocator import keep_freed_memory

# Allocate, write and free a 64 MiB block ten times; count the page faults the last nine cost.
PROGRAM = """
import resource, sys
import numpy as np
from shiftlab.run.allocator import keep_freed_memory
kept = keep_freed_memory(sys.argv[1] == "keep")
np.ones(16 << 20, np.float32)  # the first block: faulted in either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    np.ones(16 << 20, np.float32)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_reused_without_page_faults():
    kept, faults_kept = page_faults("keep")
    given_back, faults_default = page_faults("system")
    assert kept and not given_back
    # every fresh block faults each page in: 9 × 32 at least, in 2 MiB (huge) pages
    assert faults_default >= 9 * 32, faults_default
    assert faults_kept * 20 < faults_default, (faults_kept, faults_default)


def test_disabled_it_does_nothing():
    assert keep_freed_memory(False) is False
