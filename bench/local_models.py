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


if __name__ == "__main__":
    asyncio.run(main())
