"""PEFT adapters become llama.cpp LoRA GGUFs with the names, shapes and Q/K row order llama.cpp expects."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

from cluster.finetune.lora.export import write_adapter

HEADS, KV_HEADS, HIDDEN, KV_DIM, RANK = 9, 3, 576, 192, 8


def peft_state(blocks: int = 2) -> dict[str, torch.Tensor]:
    shapes = {
        "self_attn.q_proj": HIDDEN,
        "self_attn.k_proj": KV_DIM,
        "self_attn.v_proj": KV_DIM,
        "mlp.down_proj": HIDDEN,
    }
    generator = torch.Generator().manual_seed(7)
    state = {}
    for block in range(blocks):
        for module, out in shapes.items():
            prefix = f"base_model.model.model.layers.{block}.{module}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(RANK, HIDDEN, generator=generator)
            state[f"{prefix}.lora_B.weight"] = torch.randn(out, RANK, generator=generator)
    return state


def test_the_adapter_has_llama_cpp_names_metadata_and_shapes(tmp_path: Path) -> None:
    state = peft_state()
    out = tmp_path / "adapter.gguf"
    count = write_adapter(state, out, architecture="llama", blocks=2, heads=HEADS, kv_heads=KV_HEADS, alpha=16)
    assert count == len(state)
    reader = gguf.GGUFReader(out)
    fields = {name: reader.fields[name] for name in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 16.0
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == {
        f"blk.{b}.{name}.weight.lora_{f}"
        for b in range(2)
        for name in ("attn_q", "attn_k", "attn_v", "ffn_down")
        for f in ("a", "b")
    }
    v_b = state["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].numpy()
    assert np.array_equal(np.asarray(tensors["blk.1.attn_v.weight.lora_b"].data).reshape(v_b.shape), v_b)


@pytest.mark.parametrize(("module", "kv"), [("q_proj", HEADS), ("k_proj", KV_HEADS)])
def test_q_and_k_rows_are_permuted_exactly_as_transformers_undoes_it(tmp_path: Path, module: str, kv: int) -> None:
    """transformers reverse-permutes Q/K when it reads the GGUF we trained on; lora_b must be put back in the
    GGUF's order so that the adapter's delta lands on the same rows llama.cpp holds."""
    state = peft_state(1)
    out = tmp_path / "adapter.gguf"
    write_adapter(state, out, architecture="llama", blocks=1, heads=HEADS, kv_heads=KV_HEADS, alpha=16)
    tensors = {t.name: t for t in gguf.GGUFReader(out).tensors}
    gguf_name = "attn_q" if module == "q_proj" else "attn_k"
    original = state[f"base_model.model.model.layers.0.self_attn.{module}.lora_B.weight"].numpy()
    written = np.asarray(tensors[f"blk.0.{gguf_name}.weight.lora_b"].data).reshape(original.shape)
    assert not np.array_equal(written, original)
    undone = LlamaTensorProcessor(config={"num_attention_heads": HEADS, "num_key_value_heads": kv})
    restored = undone._reverse_permute_weights(written, HEADS, kv)
    assert np.array_equal(restored, original)
    a_original = state[f"base_model.model.model.layers.0.self_attn.{module}.lora_A.weight"].numpy()
    a_written = np.asarray(tensors[f"blk.0.{gguf_name}.weight.lora_a"].data).reshape(a_original.shape)
    assert np.array_equal(a_written, a_original)  # lora_a acts on inputs: untouched


def test_an_unknown_tensor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a LoRA tensor"):
        write_adapter(
            {"model.layers.0.mlp.up_proj.weight": torch.zeros(2, 2)},
            tmp_path / "x.gguf",
            architecture="llama",
            blocks=1,
            heads=HEADS,
            kv_heads=KV_HEADS,
            alpha=16,
        )
