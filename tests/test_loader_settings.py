"""Loader settings left to shiftlab (null in the data configs) follow the machine."""

from __future__ import annotations

import pytest
import torch

from shiftlab.data import loader_settings
from shiftlab.data.loader_settings import loader_workers, pin_memory


@pytest.fixture
def machine(monkeypatch):
    def set_machine(cuda: bool, cores: int, processes: int | None = None) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(loader_settings, "available_cores", lambda: cores)
        if processes is None:
            monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
        else:
            monkeypatch.setenv("LOCAL_WORLD_SIZE", str(processes))

    return set_machine


def test_a_cpu_loads_in_the_main_process(machine):
    machine(cuda=False, cores=32)
    assert loader_workers(None) == 0
    assert pin_memory(None) is False


def test_a_gpu_gets_a_worker_per_spare_core_shared_among_processes(machine):
    machine(cuda=True, cores=16)
    assert loader_workers(None) == 8  # capped
    assert pin_memory(None) is True
    machine(cuda=True, cores=16, processes=4)
    assert loader_workers(None) == 3  # 4 cores per process, one kept for the process
    machine(cuda=True, cores=1)
    assert loader_workers(None) == 0


def test_a_users_values_win(machine):
    machine(cuda=True, cores=16)
    assert loader_workers(2) == 2 and loader_workers(0) == 0
    assert pin_memory(False) is False


def test_data_modules_resolve_null_settings(machine):
    from shiftlab.data import SpectrogramSynth

    machine(cuda=False, cores=4)
    data = SpectrogramSynth(num_train=4, num_val=2, num_test=2, num_workers=None)
    assert data.num_workers == 0 and data.pin_memory is False
