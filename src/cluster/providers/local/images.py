"""Image generation with a ``diffusers`` pipeline the operator supplies (a local directory, e.g. an SD-Turbo
export made with ``save_pretrained``), on torch in a thread of its own.

No text-to-image weights can be installed from a package registry, and diffusion on two CPU cores is slow, so
nothing is bundled: with no such provider (and no image upstream) configured, no image model is listed and the
endpoint answers ``model_not_found``. The tests build a tiny pipeline with random weights in code: it draws
noise, and proves loading, scheduling, encoding and billing.

Engine extras pass through from the request: ``num_inference_steps`` (default 4, a distilled model's few
steps), ``guidance_scale`` (default 0, as turbo models want), ``negative_prompt`` and ``seed``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cluster.errors import InvalidRequest
from cluster.metering import Usage
from cluster.providers.base import Call, Capability, GeneratedImages
from cluster.providers.local.worker import ModelThread
from cluster.wire.images import ImageRequest

_MAX_STEPS = 100


class DiffusersImages:
    capabilities = frozenset({Capability.IMAGES})
    tee = False

    def __init__(self, name: str, path: Path, *, threads: int | None) -> None:
        self.name = name
        self._path = path
        self._threads = threads
        self._thread = ModelThread(name)
        self._pipeline: Any = None

    async def generate(self, request: ImageRequest, upstream_model: str, call: Call) -> GeneratedImages:
        width, height = request.dimensions((512, 512))
        if width % 8 or height % 8:
            raise InvalidRequest("size: this model makes images whose sides are multiples of 8", param="size")
        extra = request.model_extra or {}
        steps = _bounded(extra.get("num_inference_steps", 4), "num_inference_steps", 1, _MAX_STEPS)
        guidance = float(_bounded(extra.get("guidance_scale", 0.0), "guidance_scale", 0, 50))
        seed = extra.get("seed")
        if seed is not None:
            seed = _bounded(seed, "seed", 0, 2**63 - 1)
        negative = extra.get("negative_prompt")
        if negative is not None and not isinstance(negative, str):
            raise InvalidRequest("negative_prompt must be a string", param="negative_prompt")

        def run() -> list[bytes]:
            import torch

            pipeline = self._load()
            generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
            result = pipeline(
                request.prompt,
                negative_prompt=negative,
                num_images_per_prompt=request.n,
                width=width,
                height=height,
                num_inference_steps=int(steps),
                guidance_scale=guidance,
                generator=generator,
            )
            return [_png(image) for image in result.images]

        images = await self._thread.run(run)
        return GeneratedImages(images, [None] * len(images), Usage(images=len(images)))

    async def aclose(self) -> None:
        self._thread.shutdown()

    def _load(self) -> Any:
        if self._pipeline is None:
            import torch
            from diffusers import DiffusionPipeline

            if self._threads:
                torch.set_num_threads(self._threads)
            pipeline = DiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
                str(self._path), local_files_only=True, torch_dtype=torch.float32
            )
            pipeline.set_progress_bar_config(disable=True)
            self._pipeline = pipeline
        return self._pipeline


def _bounded(value: Any, name: str, low: float, high: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"{name} must be a number from {low:g} to {high:g}", param=name)
    return value


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
