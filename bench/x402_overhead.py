"""x402's cost, measured in one run: the latency an x402-paid request adds over an API-key request (same
gateway process, same mock upstream, embedded dev chain, SQLite), JSON and streaming, at concurrency 1; and
how many payment signatures one core verifies per second.

    .venv/bin/python bench/x402_overhead.py [--requests 300]

Each paid request carries its own authorization (signed before the clock starts). A JSON response waits for
its settlement (the transfer mined on anvil); a stream's first byte does not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from cluster.chain.contracts import TransferAuthorization
from cluster.chain.devchain import dev_address, dev_key
from cluster.chain.eip3009 import authorization_digest, recover_signer, sign_authorization, usdc_domain
from gateway_overhead import free_port, funded_admin_key, spawn, wait

ROOT = Path(__file__).resolve().parent.parent
PAYER = 5
CONFIG = """
data_dir = "{data}"
[limits]
key_rpm = 1000000000
key_tpm = 1000000000000
ip_rpm = 1000000000
[chain.dev]
port = {chain_port}
state_interval = 3600
[local]
enabled = false
[[providers]]
name = "mock"
base_url = "http://127.0.0.1:{port}/v1"
models = {{ "mock-model" = "mock" }}
[[models]]
id = "mock-model"
input_price = 100000
output_price = 200000
"""


def body(stream: bool) -> dict[str, Any]:
    return {
        "model": "mock-model",
        "messages": [{"role": "user", "content": "Hello there, how are you?"}],
        "max_tokens": 64,
        "stream": stream,
    }


def sign(accepts: dict[str, Any], chain_id: int) -> str:
    auth = TransferAuthorization(
        dev_address(PAYER), accepts["payTo"], int(accepts["amount"]), 0, int(time.time()) + 3600, os.urandom(32)
    )
    domain = usdc_domain(chain_id, accepts["asset"], accepts["extra"]["name"], accepts["extra"]["version"])
    signature = sign_authorization(dev_key(PAYER), domain, auth)
    inner = {
        "authorization": {
            "from": auth.from_,
            "to": auth.to,
            "value": str(auth.value),
            "validAfter": "0",
            "validBefore": str(auth.valid_before),
            "nonce": "0x" + auth.nonce.hex(),
        },
        "signature": "0x" + signature.hex(),
    }
    return base64.b64encode(json.dumps({"x402Version": 2, "payload": inner, "accepted": accepts}).encode()).decode()


async def timed(http: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str]) -> float:
    start = time.perf_counter()
    if payload["stream"]:
        ttfb = 0.0
        async with http.stream("POST", url, json=payload, headers=headers) as response:
            async for _ in response.aiter_raw():
                ttfb = ttfb or time.perf_counter() - start  # first byte of the stream
        assert response.status_code == 200, response.status_code
        return ttfb * 1000
    response = await http.post(url, json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return (time.perf_counter() - start) * 1000


async def measure(url: str, key: str, n: int) -> list[tuple[str, list[float], list[float]]]:
    rows = []
    async with httpx.AsyncClient(timeout=60) as http:
        for stream in (False, True):
            payload = body(stream)
            quote = await http.post(url, json=payload)
            accepts = json.loads(base64.b64decode(quote.headers["payment-required"]))["accepts"][0]
            chain_id = int(accepts["network"].split(":")[1])
            payments = [sign(accepts, chain_id) for _ in range(n + 20)]
            keyed, paid = [], []
            for i in range(n + 20):  # interleaved, so drift hits both alike; the first 20 warm up
                k = await timed(http, url, payload, {"authorization": f"Bearer {key}"})
                p = await timed(http, url, payload, {"PAYMENT-SIGNATURE": payments[i]})
                if i >= 20:
                    keyed.append(k)
                    paid.append(p)
            rows.append(("stream TTFB" if stream else "json", keyed, paid))
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verifications_per_second(seconds: float = 2.0) -> float:
    accepts = {
        "payTo": dev_address(1),
        "amount": "1000",
        "asset": "0x" + "11" * 20,
        "extra": {"name": "USDC", "version": "2"},
    }
    auth = TransferAuthorization(dev_address(PAYER), accepts["payTo"], 1000, 0, 2**40, os.urandom(32))
    domain = usdc_domain(8453, accepts["asset"])
    signature = sign_authorization(dev_key(PAYER), domain, auth)
    expected = dev_address(PAYER).lower()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        assert recover_signer(authorization_digest(domain, auth), signature) == expected
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    started: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            mock_port, port = free_port(), free_port()
            mock = spawn(
                [sys.executable, str(ROOT / "bench" / "mock_upstream.py"), "--port", str(mock_port)],
                tmp / "mock.log",
                env,
                started,
            )
            wait(f"http://127.0.0.1:{mock_port}/health", mock)
            config = tmp / "cluster.toml"
            config.write_text(CONFIG.format(data=tmp / "data", port=mock_port, chain_port=free_port()))
            cli = [sys.executable, "-m", "cluster"]
            key = funded_admin_key(config)
            server = spawn(
                [*cli, "serve", "--port", str(port), "--config", str(config)], tmp / "cluster.log", env, started
            )
            wait(f"http://127.0.0.1:{port}/health", server)
            rows = asyncio.run(measure(f"http://127.0.0.1:{port}/v1/chat/completions", key, args.requests))
        finally:
            for process in reversed(started):
                process.terminate()
                process.wait(timeout=30)
    print(f"x402 vs API key, concurrency 1, {args.requests} requests each (interleaved), embedded dev chain, SQLite")
    print("| mode | key p50 / p99 ms | x402 p50 / p99 ms | x402 adds (p50) |")
    print("|---|---|---|---|")
    for mode, keyed, paid in rows:
        added = statistics.median(paid) - statistics.median(keyed)
        print(
            f"| {mode} | {pct(keyed, 0.5):.2f} / {pct(keyed, 0.99):.2f} | {pct(paid, 0.5):.2f} / {pct(paid, 0.99):.2f} "
            f"| +{added:.2f} ms |"
        )
    print(f"signature verifications (EIP-712 digest + recover), one core: {verifications_per_second():,.0f}/s")


if __name__ == "__main__":
    main()
