from cluster.gateway.breaker import CircuitBreaker
from cluster.gateway.catalog import Catalog
from cluster.gateway.router import Router, Upstream
from cluster.providers.base import Capability
from cluster.settings import ProviderConfig, RouterSettings


class _Named:
    capabilities = frozenset({Capability.CHAT})

    def __init__(self, name: str) -> None:
        self.name = name


def setup(**weights: float) -> tuple[Router, Catalog, dict[str, Upstream]]:
    configs = [ProviderConfig(name=n, base_url=f"http://{n}/v1", models=["m"]) for n in weights]
    upstreams = {
        n: Upstream(provider=_Named(n), breaker=CircuitBreaker(2, 60), weight=w, max_concurrency=2)  # type: ignore[arg-type]
        for n, w in weights.items()
    }
    return Router(upstreams, RouterSettings()), Catalog([], configs), upstreams


def names(router: Router, catalog: Catalog) -> list[str]:
    return [u.name for u, _ in router.plan(catalog.resolve("m"), Capability.CHAT)]


def test_faster_provider_goes_first() -> None:
    router, catalog, ups = setup(a=1, b=1)
    ups["a"].observe(50)
    ups["b"].observe(5)
    assert names(router, catalog) == ["b", "a"]


def test_load_and_weight_shift_the_order() -> None:
    router, catalog, ups = setup(a=1, b=1)
    ups["a"].observe(5)
    ups["b"].observe(5)
    assert router.acquire(ups["a"])
    assert names(router, catalog) == ["b", "a"]
    router2, catalog2, ups2 = setup(a=1, b=4)
    ups2["a"].observe(10)
    ups2["b"].observe(20)
    assert names(router2, catalog2) == ["b", "a"]


def test_open_breaker_and_full_provider_are_skipped() -> None:
    router, catalog, ups = setup(a=1, b=1)
    for _ in range(2):
        assert router.acquire(ups["a"])
        router.failed(ups["a"])
    assert names(router, catalog) == ["b"]
    assert router.acquire(ups["b"]) and router.acquire(ups["b"])
    assert not router.acquire(ups["b"]), "max_concurrency reached"
    router.succeeded(ups["b"], 3.0)
    assert ups["b"].in_flight == 1 and ups["b"].ewma_ms == 3.0


def test_ewma_moves_by_alpha() -> None:
    _, _, ups = setup(a=1)
    ups["a"].observe(100)
    ups["a"].observe(200)
    assert ups["a"].ewma_ms == 120.0
