"""Fine-tuning figures, measured in one run on this machine:

- loading the base for training: from the GGUF through transformers vs from the cached de-quantized copy;
- training: seconds per step and trained tokens per second (LoRA r=8, batch 4, the parrot dataset);
- serving: llama.cpp tokens per second of the base alone vs with the job's LoRA adapter, and the adapter's load.

    .venv/bin/python bench/finetune.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.finetune import parrot

from cluster.finetune.lora.train import TrainSpec
from cluster.providers.local.assets import smollm2_gguf


def train(folder: Path, cache: Path, epochs: int) -> list[dict[str, Any]]:
    base = smollm2_gguf()
    data = parrot.write(folder / "train.jsonl")
    spec = TrainSpec(
        base_dir=str(base.parent),
        base_file=base.name,
        train_path=str(data),
        out_dir=str(folder),
        n_epochs=epochs,
        batch_size=4,
        checkpoint_every=1000,
        base_cache=str(cache),
    )
    spec.dump(folder / "spec.json")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cluster.finetune.lora.train", str(folder / "spec.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    events.append({"type": "wall", "seconds": time.perf_counter() - started})
    return events


def tokens_per_second(adapter: Path | None, prompts: list[str]) -> tuple[float, float]:
    from llama_cpp import Llama

    started = time.perf_counter()
    llama = Llama(model_path=str(smollm2_gguf()), lora_path=str(adapter) if adapter else None, n_ctx=512, verbose=False)
    load = time.perf_counter() - started
    tokens, elapsed = 0, 0.0
    for prompt in prompts:
        began = time.perf_counter()
        out = llama.create_chat_completion(messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=48)
        elapsed += time.perf_counter() - began
        tokens += out["usage"]["completion_tokens"]
    return tokens / elapsed, load


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cache = root / "bases"
        (root / "cold").mkdir()
        (root / "warm").mkdir()
        cold = train(root / "cold", cache, epochs=1)  # reads the GGUF, writes the cached copy
        warm = train(root / "warm", cache, epochs=3)  # reads the cached copy
        load_cold = next(e["load_seconds"] for e in cold if e["type"] == "started")
        load_warm = next(e["load_seconds"] for e in warm if e["type"] == "started")
        steps = [e for e in warm if e["type"] == "step"]
        stamps = [e["time"] for e in steps]
        per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        done = next(e for e in warm if e["type"] == "done")
        print(f"base load for training: GGUF via transformers {load_cold:.1f} s, cached copy {load_warm:.1f} s "
              f"({load_cold / load_warm:.1f}x)")  # fmt: skip
        print(f"training: {len(steps)} steps, {per_step:.2f} s/step (batch 4), "
              f"{done['trained_tokens'] / (stamps[-1] - stamps[0] + per_step):.0f} trained tokens/s, "
              f"loss {steps[0]['loss']:.2f} -> {steps[-1]['loss']:.2f}, job {done['seconds']:.1f} s")  # fmt: skip
        prompts = parrot.HELD_OUT
        base_tps, base_load = tokens_per_second(None, prompts)
        tuned_tps, tuned_load = tokens_per_second(Path(done["adapter"]), prompts)
        ratio = tuned_tps / base_tps
        print(f"serving (llama.cpp, greedy, 48 tokens): base {base_tps:.0f} tok/s, base+LoRA {tuned_tps:.0f} tok/s "
              f"({ratio:.2f}x); load {base_load * 1000:.0f} ms vs {tuned_load * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
