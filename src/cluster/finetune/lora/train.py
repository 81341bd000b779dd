"""The training worker: ``python -m cluster.finetune.lora.train SPEC.json``.

Reads a ``TrainSpec`` (JSON), trains a LoRA adapter on CPU and reports on stdout, one JSON object per line:
``{"type": "started"|"step"|"eval"|"checkpoint"|"done"|"error", ...}``. Everything it needs is in the spec;
it never touches the service's database. A resume state (adapter, optimizer, schedule, step) is saved every
``checkpoint_every`` steps and at each epoch's end, so a worker killed at any moment loses at most that many
steps; the batch order is a function of (seed, epoch), so the resumed run trains on the same batches.

The worker exits when its parent goes away (the service restarted): the job is resumed by the next service
from its last state, not left running unobserved.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainSpec:
    base_dir: str
    base_file: str
    train_path: str
    out_dir: str
    validation_path: str | None = None
    n_epochs: int = 3
    batch_size: int = 4
    learning_rate: float = 1e-3
    rank: int = 8
    alpha: int = 16
    max_length: int = 512
    seed: int = 0
    checkpoint_every: int = 10
    threads: int | None = None
    base_cache: str | None = None  # where the GGUF's de-quantized torch copy is kept between jobs
    targets: list[str] = field(default_factory=lambda: list(TARGETS))

    @classmethod
    def load(cls, path: Path) -> TrainSpec:
        return cls(**json.loads(path.read_text()))

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


class ParentGone(Exception):
    pass


_PARENT = os.getppid()


def emit(kind: str, **fields: Any) -> None:
    if os.getppid() != _PARENT:  # re-parented: the service that started us is gone
        raise ParentGone
    try:
        sys.stdout.write(json.dumps({"type": kind, "time": time.time(), **fields}) + "\n")
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise ParentGone from exc


def main(spec_path: str) -> int:
    spec = TrainSpec.load(Path(spec_path))
    try:
        train(spec)
    except ParentGone:
        return 3
    except Exception as exc:  # reported, then a non-zero exit: the service fails the job with this message
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1
    return 0


def train(spec: TrainSpec) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from cluster.finetune.lora.data import IGNORE, batches, encode, read_conversations

    torch.manual_seed(spec.seed)
    if spec.threads:
        torch.set_num_threads(spec.threads)
    out = Path(spec.out_dir)
    state_dir = out / "state"
    started = time.perf_counter()
    tokenizer, model = _load(spec)
    train_set = [encode(tokenizer, m, spec.max_length) for m in read_conversations(Path(spec.train_path))]
    train_set = [e for e in train_set if e.trained_tokens]
    if not train_set:
        raise ValueError("no example has an assistant message to train on")
    valid_set = []
    if spec.validation_path:
        valid_set = [encode(tokenizer, m, spec.max_length) for m in read_conversations(Path(spec.validation_path))]
        valid_set = [e for e in valid_set if e.trained_tokens]  # an example with nothing to score has no loss
    steps_per_epoch = math.ceil(len(train_set) / spec.batch_size)
    total = steps_per_epoch * spec.n_epochs
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec.learning_rate)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    step, trained_tokens = 0, 0
    for saved in (state_dir, state_dir.with_name("state.new"), state_dir.with_name("state.old")):
        if (saved / "progress.json").exists():  # the latest complete state (a kill may fall between renames)
            step, trained_tokens = _restore(saved, model, optimizer, schedule)
            break
    emit(
        "started",
        examples=len(train_set),
        total_steps=total,
        resumed_from=step or None,
        load_seconds=round(time.perf_counter() - started, 2),
    )

    def collate(indices: list[int], examples: list[Any]) -> dict[str, Any]:
        chosen = [examples[i] for i in indices]
        width = max(len(e.input_ids) for e in chosen)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(chosen), width), pad, dtype=torch.long)
        labels = torch.full((len(chosen), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, example in enumerate(chosen):
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            labels[row, :n] = torch.tensor(example.labels)
            mask[row, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    def evaluate() -> float:
        model.eval()
        losses = []
        with torch.no_grad():
            for indices in batches(len(valid_set), spec.batch_size, 0, spec.seed):
                losses.append(float(model(**collate(indices, valid_set)).loss))
        model.train()
        return sum(losses) / len(losses)

    model.train()
    for epoch in range(step // steps_per_epoch, spec.n_epochs):
        for index, indices in enumerate(batches(len(train_set), spec.batch_size, epoch, spec.seed)):
            if epoch * steps_per_epoch + index < step:
                continue  # trained before the resume point
            batch = collate(indices, train_set)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            trained_tokens += int((batch["labels"] != IGNORE).sum())
            emit("step", step=step, total_steps=total, epoch=epoch + 1, loss=_finite(float(loss)))
            epoch_end = step % steps_per_epoch == 0
            if epoch_end and valid_set:
                emit("eval", step=step, epoch=epoch + 1, eval_loss=_finite(evaluate()))
            if epoch_end or step % spec.checkpoint_every == 0:
                _save(state_dir, model, optimizer, schedule, step, trained_tokens)
                emit("checkpoint", step=step, epoch=epoch + 1, epoch_end=epoch_end)
    adapter = out / "adapter.gguf"
    _export(model, adapter, spec)
    emit(
        "done",
        adapter=str(adapter),
        trained_tokens=trained_tokens,
        steps=step,
        seconds=round(time.perf_counter() - started, 2),
    )


def _load(spec: TrainSpec) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    cached = _cached_base(spec)
    if cached is not None:
        tokenizer = AutoTokenizer.from_pretrained(cached)
        base = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
    else:
        tokenizer = AutoTokenizer.from_pretrained(spec.base_dir, gguf_file=spec.base_file)
        base = AutoModelForCausalLM.from_pretrained(spec.base_dir, gguf_file=spec.base_file, dtype=torch.float32)
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=0.0, target_modules=spec.targets)
    return tokenizer, get_peft_model(base, config)


def _finite(loss: float) -> float | None:
    """A diverged (NaN/inf) loss is reported as null: JSON has no NaN, and PostgreSQL's json refuses it."""
    return round(loss, 4) if math.isfinite(loss) else None


def _cached_base(spec: TrainSpec) -> Path | None:
    """The base as a torch checkpoint: reading the GGUF through transformers takes ~30 s here (its metadata is
    parsed three times and every tensor de-quantized in numpy); the saved float32 copy loads in ~2 s. Keyed by
    the GGUF's size and mtime; written to a temporary folder and renamed, so a half-written copy is never used."""
    if spec.base_cache is None:
        return None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(spec.base_dir) / spec.base_file
    stat = gguf.stat()
    folder = Path(spec.base_cache) / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"
    if (folder / "config.json").exists():
        return folder
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    tokenizer = AutoTokenizer.from_pretrained(spec.base_dir, gguf_file=spec.base_file)
    model = AutoModelForCausalLM.from_pretrained(spec.base_dir, gguf_file=spec.base_file, dtype=torch.float32)
    # De-quantized on load, the weights are plain float32: only the marker of their GGUF origin stops saving.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        tokenizer.save_pretrained(partial)
        model.save_pretrained(partial)
        partial.rename(folder)
    except OSError:  # another worker got there first
        pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _save(state_dir: Path, model: Any, optimizer: Any, schedule: Any, step: int, trained_tokens: int) -> None:
    """Written beside the last state and swapped in by renames, so a kill mid-save keeps the previous one."""
    import torch
    from peft import get_peft_model_state_dict

    fresh = state_dir.with_name("state.new")
    fresh.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "adapter": get_peft_model_state_dict(model),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
        },
        fresh / "state.pt",
    )
    (fresh / "progress.json").write_text(json.dumps({"step": step, "trained_tokens": trained_tokens}))
    old = state_dir.with_name("state.old")
    shutil.rmtree(old, ignore_errors=True)  # a kill during the last cleanup
    if state_dir.exists():
        state_dir.rename(old)
    fresh.rename(state_dir)
    shutil.rmtree(old, ignore_errors=True)


def _restore(state_dir: Path, model: Any, optimizer: Any, schedule: Any) -> tuple[int, int]:
    import torch
    from peft import set_peft_model_state_dict

    saved = torch.load(state_dir / "state.pt", weights_only=True)
    set_peft_model_state_dict(model, saved["adapter"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    progress = json.loads((state_dir / "progress.json").read_text())
    return int(progress["step"]), int(progress["trained_tokens"])


def _export(model: Any, adapter: Path, spec: TrainSpec) -> None:
    from peft import get_peft_model_state_dict

    from cluster.finetune.lora.export import write_adapter

    config = model.base_model.model.config
    partial = adapter.with_suffix(".partial")
    write_adapter(
        get_peft_model_state_dict(model),
        partial,
        architecture=config.model_type,
        blocks=config.num_hidden_layers,
        heads=config.num_attention_heads,
        kv_heads=config.num_key_value_heads,
        alpha=spec.alpha,
    )
    partial.rename(adapter)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
