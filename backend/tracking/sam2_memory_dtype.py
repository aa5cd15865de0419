"""Without autocast (the CPU), hand sam2's bf16 mask memories to memory attention in its dtype.

sam2 1.1.0 stores every mask memory as bfloat16 (`sam2_video_predictor.py` lines 781 and 833,
`maskmem_features.to(torch.bfloat16)`), counting on the bf16 autocast of its CUDA demos.
`sam2_base._prepare_memory_conditioned_features` concatenates them (line 664) with the object
pointers (float32), which promotes the memory to float32, unless the object has no pointer to
attend to: sam2 takes pointers only from prompted frames behind the frame tracked in the pass's
direction and from frames tracked just before it. So an object whose prompts all lie ahead (an
object prompted on a later frame than the pass starts, a pass that runs towards its prompt) gets
a bf16 memory, and without autocast cross-attention's `v_proj(memory)` (memory_attention.py line
78, sam/transformer.py line 281, float32 weights) raises "mat1 and mat2 must have the same dtype".

The fix sits where the dtypes meet: while the context is active, memory attention's `memory`
argument is cast to the dtype of its weights. The stored memories stay bf16 (half the bytes), and
where the concatenation promoted them before, the cast gives the very same float32 values.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Dict, Iterator, Tuple

import torch

MEMORY_ARG = "memory"


def attention_module(model: torch.nn.Module) -> torch.nn.Module:
    """The model's memory attention, checked to take the `memory` argument this module casts."""
    attention = getattr(model, "memory_attention", None)
    takes_memory = isinstance(attention, torch.nn.Module) and (
        MEMORY_ARG in inspect.signature(attention.forward).parameters
    )
    if not isinstance(attention, torch.nn.Module) or not takes_memory:
        raise RuntimeError(
            f"{type(model).__name__} has no memory_attention module taking a '{MEMORY_ARG}' "
            "argument: this sam2 version is not supported; install the sam2 version pinned in "
            "pyproject.toml"
        )
    return attention


@contextlib.contextmanager
def memory_in_weight_dtype(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, memory attention casts its `memory` input to its weights' dtype.

    For code that runs without autocast; the model is shared, so the hook lives only as long as
    the block (sessions are used by one thread at a time, see TrackerSession).
    """
    attention = attention_module(model)
    dtype = next(attention.parameters()).dtype
    position = list(inspect.signature(attention.forward).parameters).index(MEMORY_ARG)

    def cast_memory(
        _module: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
        if MEMORY_ARG in kwargs:
            kwargs = {**kwargs, MEMORY_ARG: _cast(kwargs[MEMORY_ARG], dtype)}
        elif len(args) > position:
            args = (*args[:position], _cast(args[position], dtype), *args[position + 1 :])
        return args, kwargs

    handle = attention.register_forward_pre_hook(cast_memory, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
        return value.to(dtype)
    return value
