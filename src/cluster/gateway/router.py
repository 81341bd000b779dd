"""Choosing a provider for each request.

Every provider carries its live state: breaker, in-flight count against ``max_concurrency``, an EWMA of
latency (time to first event for streams) and a weight. A request's plan is the providers that serve its
model, healthy ones only, ordered by ``(ewma + 1 ms) * (in_flight + 1) / weight``. The catalog lookup is one
dict access and the plan touches only that model's providers (a handful), so the cost per request does not
grow with the number of models, providers or requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.core import Metric

from cluster.gateway.breaker import CircuitBreaker
from cluster.gateway.catalog import CatalogEntry
from cluster.metering.metrics import gauge
from cluster.providers.base import Capability, Provider, check_capabilities
from cluster.settings import RouterSettings


@dataclass(slots=True)
class Upstream:
    provider: Provider
    breaker: CircuitBreaker
    weight: float = 1.0
    max_concurrency: int = 256
    in_flight: int = 0
    ewma_ms: float | None = None
    served: int = 0
    failed: int = 0
    _alpha: float = field(default=0.2, repr=False)

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def full(self) -> bool:
        return self.in_flight >= self.max_concurrency

    def score(self) -> float:
        return ((self.ewma_ms or 0.0) + 1.0) * (self.in_flight + 1) / self.weight

    def observe(self, latency_ms: float) -> None:
        if self.ewma_ms is None:
            self.ewma_ms = latency_ms
        else:
            self.ewma_ms += self._alpha * (latency_ms - self.ewma_ms)

    def status(self) -> dict[str, object]:
        return {
            "state": self.breaker.state.value,
            "in_flight": self.in_flight,
            "max_concurrency": self.max_concurrency,
            "ewma_ms": None if self.ewma_ms is None else round(self.ewma_ms, 3),
            "served": self.served,
            "failed": self.failed,
        }


class Router:
    """Owns every provider it routes to: ``add`` builds a provider's live state, ``remove`` takes it out, and
    ``aclose`` closes the providers still routed."""

    def __init__(self, settings: RouterSettings) -> None:
        self._upstreams: dict[str, Upstream] = {}
        self._settings = settings
        self.max_attempts = settings.max_attempts

    def add(self, provider: Provider, *, weight: float = 1.0, max_concurrency: int = 256) -> Upstream:
        """Route to ``provider`` (configured at start, or appearing at run time: a fine-tuned model loaded)."""
        if provider.name in self._upstreams:
            raise ValueError(f"a provider named {provider.name!r} is routed already")
        check_capabilities(provider)
        settings = self._settings
        upstream = Upstream(
            provider=provider,
            breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown),
            weight=weight,
            max_concurrency=max_concurrency,
            _alpha=settings.ewma_alpha,
        )
        self._upstreams[provider.name] = upstream
        return upstream

    def plan(
        self, entry: CatalogEntry, capability: Capability, *, tee_only: bool = False, pinned: str | None = None
    ) -> list[tuple[Upstream, str]]:
        """The providers to try for this model, best first, among those that declare ``capability``;
        ``tee_only``: confidential providers only (each attests before it is sent anything, so an unverified one
        fails over rather than serving); ``pinned``: that provider only."""
        candidates = []
        for route in entry.routes:
            upstream = self._upstreams.get(route.provider)
            if upstream is None or (tee_only and not upstream.provider.tee):
                continue
            if pinned is not None and upstream.name != pinned:
                continue
            if capability in upstream.provider.capabilities and upstream.breaker.available():
                candidates.append((upstream, route.upstream_model))
        if len(candidates) > 1:
            candidates.sort(key=lambda c: c[0].score())
        return candidates

    @staticmethod
    def acquire(upstream: Upstream) -> bool:
        if upstream.full or not upstream.breaker.acquire():
            return False
        upstream.in_flight += 1
        return True

    @staticmethod
    def succeeded(upstream: Upstream, latency_ms: float) -> None:
        upstream.in_flight -= 1
        upstream.served += 1
        upstream.observe(latency_ms)
        upstream.breaker.success()

    @staticmethod
    def failed(upstream: Upstream) -> None:
        upstream.in_flight -= 1
        upstream.failed += 1
        upstream.breaker.failure()

    @staticmethod
    def abandoned(upstream: Upstream) -> None:
        """The request ended for a reason that says nothing about the provider."""
        upstream.in_flight -= 1
        upstream.breaker.release()

    def get(self, name: str) -> Upstream | None:
        return self._upstreams.get(name)

    def remove(self, name: str) -> Upstream | None:
        return self._upstreams.pop(name, None)

    def gauges(self) -> list[Metric]:
        """Each provider's load and breaker (this process's), for ``/metrics``."""
        upstreams = list(self._upstreams.values())
        return [
            gauge(
                "cluster_provider_in_flight",
                "Requests in flight",
                ["provider"],
                [([u.name], u.in_flight) for u in upstreams],
            ),
            gauge(
                "cluster_provider_breaker_open",
                "1 while the provider's breaker is open",
                ["provider"],
                [([u.name], float(u.breaker.state.value == "open")) for u in upstreams],
            ),
        ]

    def status(self) -> dict[str, dict[str, object]]:
        return {name: upstream.status() for name, upstream in self._upstreams.items()}

    async def aclose(self) -> None:
        """Close every provider still routed (each closes its own pool or model thread)."""
        while self._upstreams:
            _, upstream = self._upstreams.popitem()
            await upstream.provider.aclose()
