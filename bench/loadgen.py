"""A minimal keep-alive HTTP/1.1 load generator on asyncio streams (with uvloop): a few tens of µs per
request, so the client is never what limits the figures. Measures latency to the last byte, time to the
first body byte (streams), and throughput, for N connections each sending requests back to back."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "p50_ms": self.pct(self.latencies, 0.50),
            "p99_ms": self.pct(self.latencies, 0.99),
            "ttfb_p50_ms": self.pct(self.ttfb, 0.50),
            "ttfb_p99_ms": self.pct(self.ttfb, 0.99),
            "rps": self.rps,
            "n": float(len(self.latencies)),
            "errors": float(self.errors),
            "mean_ms": statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan"),
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, float | None]:
    """Read one response; return its status and the time its first body byte arrived."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = dict(line.split(b":", 1) for line in head.lower().split(b"\r\n")[1:] if b":" in line)
    first: float | None = None
    if headers.get(b"transfer-encoding", b"").strip() == b"chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip().split(b";")[0], 16)
            if first is None:
                first = time.perf_counter()
            await reader.readexactly(size + 2)
            if size == 0:
                return status, first
    length = int(headers.get(b"content-length", b"0").strip())
    if length:
        await reader.readexactly(length)
        first = time.perf_counter()
    return status, first


async def _connection(url: str, body: bytes, headers: dict[str, str], stop: float, result: Result) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (head + f"content-length: {len(body)}\r\n\r\n").encode() + body
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(request)
            status, first = await _read_response(reader)
            done = time.perf_counter()
            if status != 200:
                result.errors += 1
                continue
            result.latencies.append(done - started)
            if first is not None:
                result.ttfb.append(first - started)
    except (ConnectionError, asyncio.IncompleteReadError):
        result.errors += 1
    finally:
        writer.close()


async def run(url: str, body: bytes, concurrency: int, seconds: float, headers: dict[str, str] | None = None) -> Result:
    result = Result()
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(_connection(url, body, headers or {}, stop, result) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result
