"""SAM2MATTING_CPU_THREADS: parsed, applied once where a process starts its work."""

from __future__ import annotations

import pytest
import torch

from sam2matting.backend.errors import UsageError
from sam2matting.backend.threads import ENV, apply_cpu_threads, cpu_threads


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 1), ("", 1), ("3", 3), (" 2 ", 2), ("0", None), ("AUTO", None)]
)
def test_cpu_threads_reads_the_variable(value, expected) -> None:
    assert cpu_threads({} if value is None else {ENV: value}) == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_value_is_a_usage_error_naming_the_variable(value) -> None:
    with pytest.raises(UsageError, match=ENV):
        cpu_threads({ENV: value})


def test_apply_sets_torch_intra_op_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert apply_cpu_threads({ENV: "2"}) == 2
        assert torch.get_num_threads() == 2
        assert apply_cpu_threads({}) == 1  # the default
        assert apply_cpu_threads({ENV: "auto"}) == 1  # auto leaves it as it is
    finally:
        torch.set_num_threads(before)


def test_the_in_process_render_applies_it(tmp_path, monkeypatch) -> None:
    from sam2matting.backend.render.in_process import InProcessBackend

    before = torch.get_num_threads()
    monkeypatch.setenv(ENV, "3")
    try:
        with InProcessBackend(None, {"cache_root": str(tmp_path), "device": "cpu"}):
            assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
