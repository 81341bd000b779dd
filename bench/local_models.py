"""Throughput of the bundled local models through the gateway (in-process app, real models):
embeddings per second (batches of 32 sentences) and generated tokens per second (SmolLM2).

    .venv/bin/python bench/local_models.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from cluster.app import create_app
from cluster.settings import Settings

SENTENCES = [f"Sentence number {i} about lighthouses, ledgers and the sea." for i in range(32)]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), auth={"required": False}, limits={"ip_rpm": None})  # type: ignore[arg-type]
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://c", timeout=120) as http:
                body = {"model": "all-minilm-l6-v2", "input": SENTENCES}
                await http.post("/v1/embeddings", json=body)  # load the model
                started, batches = time.perf_counter(), 0
                while time.perf_counter() - started < 5:
                    assert (await http.post("/v1/embeddings", json=body)).status_code == 200
                    batches += 1
                elapsed = time.perf_counter() - started
                print(f"embeddings: {batches * len(SENTENCES) / elapsed:.0f} sentences/s (batches of 32, 384 dims)")

                chat = {
                    "model": "smollm2",
                    "messages": [{"role": "user", "content": "Tell a story about a ship."}],
                    "max_tokens": 200,
                    "temperature": 0,
                }
                await http.post("/v1/chat/completions", json={**chat, "max_tokens": 4})  # load the model
                started = time.perf_counter()
                usage = (await http.post("/v1/chat/completions", json=chat)).json()["usage"]
                elapsed = time.perf_counter() - started
                tokens = usage["completion_tokens"]
                print(
                    f"chat: {tokens} tokens in {elapsed:.2f} s = {tokens / elapsed:.0f} tokens/s including the "
                    f"{usage['prompt_tokens']}-token prompt (SmolLM2-135M Q4_1, llama.cpp, 2 threads)"
                )
                await _reproducibility_cost(http)


async def _reproducibility_cost(http: httpx.AsyncClient) -> None:
    """Greedy and seeded requests start from an empty context (reproducible text); others may reuse the previous
    request's cached prompt. The cost: one prompt evaluation, measured on a repeated ~1,000-token prompt."""
    long = " ".join(f"Line {i}: the keeper logged the weather, the ships and the light." for i in range(60))
    base = {"model": "smollm2", "messages": [{"role": "user", "content": long}], "max_tokens": 1}

    async def median_ms(extra: dict[str, object]) -> float:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            assert (await http.post("/v1/chat/completions", json={**base, **extra})).status_code == 200
            times.append((time.perf_counter() - started) * 1000)
        return sorted(times)[len(times) // 2]

    fresh, reused = await median_ms({"temperature": 0}), await median_ms({"temperature": 0.7})
    print(
        f"reproducible (greedy/seeded) request, repeated ~1k-token prompt: {fresh:.0f} ms vs {reused:.0f} ms with the "
        f"prompt cache reused ({fresh / reused:.1f}x): the price of the same text every time"
    )


if __name__ == "__main__":
    asyncio.run(main())
