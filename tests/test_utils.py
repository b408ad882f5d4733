"""Device choice, seeding and the progress-bar switch."""

import pytest
import torch

import ncutils as nc


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, True),
        ({"CI": "true"}, False),
        ({"CI": "false"}, True),
        ({"NCUTILS_PROGRESS": "0"}, False),
        ({"NCUTILS_PROGRESS": "off"}, False),
        ({"NCUTILS_PROGRESS": "1"}, True),
    ],
)
def test_progress_follows_environment(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NCUTILS_PROGRESS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert nc.progress_enabled() is expected
    assert nc.progress_enabled(True) is True  # an explicit choice wins
    assert nc.progress_enabled(False) is False


def test_seed_everything_repeats_random_draws():
    nc.seed_everything(3)
    first = torch.randn(5)
    nc.seed_everything(3)
    assert torch.equal(first, torch.randn(5))


def test_ncutils_threads_replaces_the_thread_count(monkeypatch):
    """The test suite runs notebooks with 2 threads by setting NCUTILS_THREADS (tests/kernel_settings.py)."""
    threads = torch.get_num_threads()
    try:
        monkeypatch.setenv("NCUTILS_THREADS", "2")
        nc.seed_everything(0, threads=1)
        assert torch.get_num_threads() == 2
        monkeypatch.delenv("NCUTILS_THREADS")
        nc.seed_everything(0, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_ncutils_threads_is_one_clear_error(monkeypatch, value):
    monkeypatch.setenv("NCUTILS_THREADS", value)
    with pytest.raises(ValueError, match=f"NCUTILS_THREADS must be a positive int, got '{value}'"):
        nc.seed_everything(0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_asked_for_without_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="device='cuda'"):
        nc.pick_device("cuda")
    assert nc.pick_device("auto").type == "cpu"
