"""OpenTelemetry traces (off by default; ``tracing.enabled``): one span per request, with children for
authentication, rate limits, routing, each provider attempt, and the payment's authorize and settle (a balance
hold and capture, or x402 verify and settle).

The tracer provider is this service's own (never OpenTelemetry's global one), built and shut down with the
service. Spans are exported over OTLP/HTTP (``tracing.otlp_endpoint``), or kept in memory (``exporter =
"memory"``: for tests and debugging, read back with ``Tracing.finished()``). Span attributes never hold content
or keys: the same ids, counts and statuses as the request log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, format_trace_id

from cluster.settings import Settings


class Tracing:
    def __init__(self, provider: TracerProvider | None = None, memory: InMemorySpanExporter | None = None) -> None:
        self._tracer = provider.get_tracer("cluster") if provider is not None else None
        self._memory = memory

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span | None]:
        """A child of the current span (a root one at the edge); nothing at all when tracing is off."""
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield span

    def finished(self) -> tuple[ReadableSpan, ...]:
        """Spans ended so far, with ``exporter = "memory"``."""
        return self._memory.get_finished_spans() if self._memory is not None else ()


def trace_id(span: Span | None) -> str | None:
    return format_trace_id(span.get_span_context().trace_id) if span is not None else None


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Tracing]:
    config = settings.tracing
    if not config.enabled:
        yield Tracing()
        return
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    memory: InMemorySpanExporter | None = None
    if config.exporter == "memory":
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint)))
    try:
        yield Tracing(provider, memory)
    finally:
        await asyncio.to_thread(provider.shutdown)  # exports what is batched (bounded by the exporter's timeout)
