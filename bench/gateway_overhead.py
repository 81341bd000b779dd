"""Gateway overhead: the same mock upstream measured directly, through Cluster and through LiteLLM's proxy,
in one run, non-streaming and streaming, at several concurrencies. Prints p50/p99 latency, time to first
byte for streams, requests/s, and the ratios.

    make bench                                   # or:
    .venv/bin/python bench/gateway_overhead.py --seconds 5 --workers 1

LiteLLM is measured when ``bench/.venv-litellm`` exists (``bash bench/setup_litellm.sh`` makes it).
Everything runs on this machine: the load generator, the mock, and the gateway share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import loadgen

ROOT = Path(__file__).resolve().parent.parent
LITELLM = ROOT / "bench" / ".venv-litellm" / "bin" / "litellm"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(url)


Target = tuple[str, str, dict[str, str]]  # url, model name, headers
LITELLM_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
UPSTREAM_TOML = """
[local]
enabled = false
[[providers]]
name = "mock"
base_url = "http://127.0.0.1:{port}/v1"
models = {{ "mock-model" = "mock" }}
max_concurrency = 1024
[[models]]
id = "mock-model"
input_price = 100000
output_price = 200000
"""
# The bare spine: no keys, no limits, no billing.
CLUSTER_TOML = (
    """
data_dir = "{data}"
[auth]
required = false
[limits]
ip_rpm = 100000000
"""
    + UPSTREAM_TOML
)
# Everything on: API keys, rate limits in Redis (high enough never to refuse), billing in PostgreSQL.
SECURED_TOML = (
    """
data_dir = "{data}"
database_url = "{database}"
redis_url = "redis://127.0.0.1:6379/0"
[limits]
key_rpm = 1000000000
key_tpm = 1000000000000
ip_rpm = 1000000000
"""
    + UPSTREAM_TOML
)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LITELLM_YAML = """
model_list:
  - model_name: mock-model
    litellm_params:
      model: openai/mock
      api_base: http://127.0.0.1:{port}/v1
      api_key: sk-mock
litellm_settings:
  drop_params: true
  telemetry: false
"""


def spawn(
    command: list[str], log: Path, env: dict[str, str], started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=out)
    started.append(process)
    return process


def funded_admin_key(config: Path) -> str:
    """The first admin's API key in ``config``'s database, with 1,000,000 USDC of balance."""
    cli = [sys.executable, "-m", "cluster"]
    init = subprocess.run([*cli, "admin", "init", "--config", str(config)], capture_output=True, text=True, check=True)
    admin_id, key = init.stdout.split("admin user: ")[1].split()[0], init.stdout.strip().splitlines()[-1]
    credit = [*cli, "credit", admin_id, "1000000", "bench", "--config", str(config)]
    subprocess.run(credit, check=True, capture_output=True)
    return key


def start_processes(
    tmp: Path,
    workers: int,
    chunks: int,
    litellm: bool,
    secured: str | None,
    started: list[subprocess.Popen[bytes]],
) -> dict[str, Target]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    mock_port, cluster_port = free_port(), free_port()
    mock_cmd = [sys.executable, str(ROOT / "bench" / "mock_upstream.py"), "--port", str(mock_port)]
    mock = spawn([*mock_cmd, "--chunks", str(chunks)], tmp / "mock.log", env, started)
    wait(f"http://127.0.0.1:{mock_port}/health", mock)

    config = tmp / "cluster.toml"
    config.write_text(CLUSTER_TOML.format(data=tmp / "data", port=mock_port))
    serve = ["serve", "--port", str(cluster_port), "--workers", str(workers), "--config", str(config)]
    cluster = spawn([sys.executable, "-m", "cluster", *serve], tmp / "cluster.log", env, started)
    wait(f"http://127.0.0.1:{cluster_port}/health", cluster)
    targets: dict[str, Target] = {
        "direct": (f"http://127.0.0.1:{mock_port}/v1/chat/completions", "mock", {}),
        "cluster": (f"http://127.0.0.1:{cluster_port}/v1/chat/completions", "mock-model", {}),
    }
    if secured:
        secured_port = free_port()
        config = tmp / "secured.toml"
        config.write_text(SECURED_TOML.format(data=tmp / "secured", database=secured, port=mock_port))
        cli = [sys.executable, "-m", "cluster"]
        key = funded_admin_key(config)
        serve = ["serve", "--port", str(secured_port), "--workers", str(workers), "--config", str(config)]
        process = spawn([*cli, *serve], tmp / "secured.log", env, started)
        wait(f"http://127.0.0.1:{secured_port}/health", process)
        url = f"http://127.0.0.1:{secured_port}/v1/chat/completions"
        targets["secured"] = (url, "mock-model", {"authorization": f"Bearer {key}"})
    if litellm:
        litellm_port = free_port()
        litellm_config = tmp / "litellm.yaml"
        litellm_config.write_text(LITELLM_YAML.format(port=mock_port))
        proxy_env = {
            **env,
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_MASTER_KEY": LITELLM_KEY,
        }
        command = [str(LITELLM), "--config", str(litellm_config), "--port", str(litellm_port)]
        proxy = spawn([*command, "--num_workers", str(workers)], tmp / "litellm.log", proxy_env, started)
        wait(f"http://127.0.0.1:{litellm_port}/health/liveliness", proxy, timeout=180)
        auth = {"authorization": f"Bearer {LITELLM_KEY}"}
        targets["litellm"] = (f"http://127.0.0.1:{litellm_port}/v1/chat/completions", "mock-model", auth)
    return targets


async def create_database() -> str:
    import asyncpg

    name = f"cluster_bench_{os.getpid()}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    if os.environ.get("BENCH_ASYNC_COMMIT"):
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    await admin.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def drop_database(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


def body(model: str, stream: bool) -> bytes:
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "Hello there, how are you?"}],
        "max_tokens": 64,
        "stream": stream,
    }
    return json.dumps(payload).encode()


async def measure(targets: dict[str, Target], concurrencies: list[int], seconds: float) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for stream in (False, True):
        for concurrency in concurrencies:
            for name, (url, model, headers) in targets.items():
                data = body(model, stream)
                await loadgen.run(url, data, min(concurrency, 8), 0.5, headers)  # warm-up: pools, caches
                result = await loadgen.run(url, data, concurrency, seconds, headers)
                rows.append({"target": name, "stream": stream, "concurrency": concurrency, **result.summary()})
                shown = ("p50_ms", "p99_ms", "ttfb_p50_ms", "rps", "errors")
                figures = "  ".join(f"{k}={v:.2f}" for k, v in result.summary().items() if k in shown)
                print(f"  {name:8} stream={stream!s:5} c={concurrency:<4} {figures}", flush=True)
    return rows


def report(rows: list[dict]) -> str:  # type: ignore[type-arg]
    index = {(r["target"], r["stream"], r["concurrency"]): r for r in rows}
    columns = [
        "mode",
        "conc",
        "direct p50/p99 ms",
        "cluster p50/p99 ms",
        "added p50/p99 ms",
        "cluster rps",
        "litellm p50/p99 ms",
        "litellm rps",
        "cluster/litellm rps",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for (target, stream, concurrency), d in sorted(index.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if target != "direct":
            continue
        c = index[("cluster", stream, concurrency)]
        lite = index.get(("litellm", stream, concurrency))
        key = "ttfb" if stream else ""
        mode = "stream (TTFB)" if stream else "json"
        p50, p99 = (f"{key}_p50_ms", f"{key}_p99_ms") if stream else ("p50_ms", "p99_ms")
        if lite and not lite["rps"]:
            lite = None  # every LiteLLM request failed in this cell: shown as "-"
        lite_cols = (
            f"{lite[p50]:.2f} / {lite[p99]:.2f} | {lite['rps']:.0f} | {c['rps'] / lite['rps']:.1f}x"
            if lite
            else "- | - | -"
        )
        lines.append(
            f"| {mode} | {concurrency} | {d[p50]:.2f} / {d[p99]:.2f} | {c[p50]:.2f} / {c[p99]:.2f} | "
            f"{c[p50] - d[p50]:+.2f} / {c[p99] - d[p99]:+.2f} | {c['rps']:.0f} | {lite_cols} |"
        )
    if any(r["target"] == "secured" for r in rows):
        lines += [
            "",
            "| mode | conc | bare cluster p50/p99 ms | + keys, limits, billing p50/p99 ms | added p50/p99 ms "
            "| bare rps | secured rps | vs direct p50 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for (target, stream, concurrency), bare in sorted(index.items(), key=lambda kv: (kv[0][1], kv[0][2])):
            if target != "cluster":
                continue
            full = index[("secured", stream, concurrency)]
            direct = index[("direct", stream, concurrency)]
            p50, p99 = ("ttfb_p50_ms", "ttfb_p99_ms") if stream else ("p50_ms", "p99_ms")
            lines.append(
                f"| {'stream (TTFB)' if stream else 'json'} | {concurrency} | {bare[p50]:.2f} / {bare[p99]:.2f} | "
                f"{full[p50]:.2f} / {full[p99]:.2f} | {full[p50] - bare[p50]:+.2f} / {full[p99] - bare[p99]:+.2f} | "
                f"{bare['rps']:.0f} | {full['rps']:.0f} | {full[p50] - direct[p50]:+.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", default="1,50,200")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=16, help="content events per mock stream")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--secured", action="store_true", help="also measure keys + rate limits + billing on PostgreSQL and Redis"
    )
    args = parser.parse_args()
    litellm = LITELLM.exists() and not args.no_litellm
    if not litellm:
        print("LiteLLM not measured (run `bash bench/setup_litellm.sh` first)")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            database = asyncio.run(create_database()) if args.secured else None
            targets = start_processes(Path(tmp), args.workers, args.chunks, litellm, database, started)
            rows = asyncio.run(measure(targets, [int(c) for c in args.concurrency.split(",")], args.seconds))
        finally:
            for process in started:
                process.terminate()
                process.wait(timeout=30)
            if database:
                asyncio.run(drop_database(database))
    table = report(rows)
    cores = os.cpu_count()
    print(f"\nworkers={args.workers}, {args.seconds:.0f}s per cell, {cores} cores shared by all processes\n")
    print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway_overhead.json").write_text(json.dumps(rows, indent=1))
    (out / "gateway_overhead.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
