"""A PEFT LoRA adapter → a llama.cpp LoRA adapter GGUF, applied at load time to the unchanged base GGUF.

Why not merge: merging into the base and re-quantizing rewrote the tokenizer and erased most of a short
fine-tune (measured when this was planned); an adapter keeps the served base byte-identical to the one the
adapter was trained against (transformers de-quantizes that same file for training).

Tensor names come from gguf's own HF → GGUF map. llama.cpp stores Q and K of llama-style models with their
rows permuted for its rotary layout (and transformers undoes it when it loads a GGUF), so ``lora_b`` of
``q_proj``/``k_proj`` — the factor whose rows are output features — gets the same permutation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gguf
import numpy as np

_PEFT_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<factor>[AB])(?:\.default)?\.weight$")
_PERMUTED_ARCHS = {"llama"}


def write_adapter(
    state: dict[str, Any], out: Path, *, architecture: str, blocks: int, heads: int, kv_heads: int, alpha: float
) -> int:
    """Write ``state`` (PEFT's adapter state dict, torch tensors) to ``out``; returns the tensor count."""
    arch = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == architecture)
    names = gguf.get_tensor_name_map(arch, blocks)
    writer = gguf.GGUFWriter(str(out), architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    count = 0
    for key in sorted(state):
        match = _PEFT_KEY.match(key)
        if match is None:
            raise ValueError(f"not a LoRA tensor: {key}")
        module, factor = match["module"], match["factor"]
        target = names.get_name(module)
        if target is None:
            raise ValueError(f"no GGUF name for {module}")
        tensor = state[key].detach().to("cpu").float().numpy()
        if factor == "B" and architecture in _PERMUTED_ARCHS:
            if module.endswith("q_proj"):
                tensor = _permute(tensor, heads, heads)
            elif module.endswith("k_proj"):
                tensor = _permute(tensor, heads, kv_heads)
        writer.add_tensor(f"{target}.weight.lora_{factor.lower()}", np.ascontiguousarray(tensor, dtype=np.float32))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count


def _permute(weights: np.ndarray, heads: int, kv_heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf ``LlamaModel.permute``, on the rows."""
    if kv_heads != heads:
        heads = kv_heads
    shape = weights.shape
    return weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
