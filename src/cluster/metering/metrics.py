"""Prometheus metrics (``GET /metrics``): what was served, how fast, what it cost, what was refused, and the live
state of providers, the request log and the job queue.

Counters and histograms are correct with several workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``cluster
serve`` sets it for ``server.workers > 1``), every process writes its values there and a scrape of any worker
adds them up. The live gauges (in-flight per provider, breaker state, request-log queue) are the answering
process's own. No label carries prompt content, a key, or a value a caller chooses freely: ``model`` is a catalog
(or fine-tuned) model that was served, else ``-``; ``code`` is one of the error tree's codes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cluster.metering.records import RequestRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "cluster_requests", "Requests answered", ["endpoint", "model", "provider", "status"], registry=registry
        )
        self.latency = Histogram(
            "cluster_request_duration_seconds", "Time to the whole answer", ["endpoint"], buckets=_LATENCY,
            registry=registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "cluster_time_to_first_token_seconds", "Streams: time to the first event", ["model"], buckets=_LATENCY,
            registry=registry,
        )  # fmt: skip
        self.tokens = Counter("cluster_tokens", "Tokens served", ["model", "direction"], registry=registry)
        self.spend = Counter("cluster_spend_micro_usdc", "Charged (micro-USDC)", ["model"], registry=registry)
        self.failovers = Counter(
            "cluster_failovers", "Provider attempts beyond the first", ["model"], registry=registry
        )
        self.errors = Counter(
            "cluster_errors", "Error answers by code (402s, rate limits, x402 refusals …)", ["code", "status"],
            registry=registry,
        )  # fmt: skip
        self._live: list[Callable[[], Iterable[Metric]]] = []
        registry.register(_Live(self._live))

    def observe(self, record: RequestRecord) -> None:
        """One request's record (served or refused), as the request log gets it."""
        served = record.provider is not None
        model = record.model if served else "-"
        self.requests.labels(record.endpoint, model, record.provider or "-", str(record.status)).inc()
        self.latency.labels(record.endpoint).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self.ttft.labels(model).observe(record.ttft_ms / 1000)
        # counters only go up: a negative count an upstream reported is not counted (nor may it raise here)
        if record.usage.prompt_tokens > 0:
            self.tokens.labels(model, "input").inc(record.usage.prompt_tokens)
        if record.usage.completion_tokens > 0:
            self.tokens.labels(model, "output").inc(record.usage.completion_tokens)
        if record.cost > 0:
            self.spend.labels(model).inc(record.cost)
        if record.attempts > 1:
            self.failovers.labels(model).inc(record.attempts - 1)

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        """A counter of a domain's own (x402 outcomes …), in this service's registry."""
        return Counter(name, documentation, labels, registry=self.registry)

    def histogram(self, name: str, documentation: str, labels: list[str]) -> Histogram:
        return Histogram(name, documentation, labels, buckets=_LATENCY, registry=self.registry)

    def error(self, code: str | None, status: int) -> None:
        self.errors.labels(code or "-", str(status)).inc()

    def live(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Gauges read at scrape time from a domain's own state (this process's)."""
        self._live.append(collect)

    def exposition(self) -> bytes:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]  # every worker's
        merged.register(_Live(self._live))
        return generate_latest(merged)


class _Live(Collector):
    def __init__(self, sources: list[Callable[[], Iterable[Metric]]]) -> None:
        self._sources = sources

    def collect(self) -> Iterable[Metric]:
        for source in self._sources:
            yield from source()


def gauge(name: str, documentation: str, labels: list[str], values: Iterable[tuple[list[str], float]]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family
