import pytest

from cluster.gateway.catalog import Catalog
from cluster.gateway.router import Router, Upstream
from cluster.providers.base import Capability
from cluster.settings import ProviderConfig, RouterSettings


class _Named:
    capabilities = frozenset({Capability.CHAT})
    tee = False
    closed: list[str] = []

    def __init__(self, name: str) -> None:
        self.name = name

    async def chat(self, request: object, upstream_model: str, call: object) -> object:
        raise NotImplementedError  # planned, never called here

    async def aclose(self) -> None:
        _Named.closed.append(self.name)


def setup(**weights: float) -> tuple[Router, Catalog, dict[str, Upstream]]:
    configs = [ProviderConfig(name=n, base_url=f"http://{n}/v1", models=["m"]) for n in weights]
    router = Router(RouterSettings(breaker_failures=2, breaker_cooldown=60))
    upstreams = {n: router.add(_Named(n), weight=w, max_concurrency=2) for n, w in weights.items()}
    return router, Catalog([], configs), upstreams


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


def test_plan_keeps_only_providers_with_the_capability_and_the_pin() -> None:
    router, catalog, _ = setup(a=1, b=1)
    assert [u.name for u, _ in router.plan(catalog.resolve("m"), Capability.EMBEDDINGS)] == []
    assert [u.name for u, _ in router.plan(catalog.resolve("m"), Capability.CHAT, pinned="b")] == ["b"]
    assert router.plan(catalog.resolve("m"), Capability.CHAT, tee_only=True) == []


async def test_the_router_closes_the_providers_it_still_routes() -> None:
    router, catalog, _ = setup(a=1, b=1)
    _Named.closed.clear()
    assert router.remove("a") is not None and router.get("a") is None
    await router.aclose()
    assert _Named.closed == ["b"], "a was removed (its remover closes it); b is closed by the router"
    assert router.plan(catalog.resolve("m"), Capability.CHAT) == []


def test_a_provider_is_routed_once_and_only_with_what_it_implements() -> None:
    router, _, _ = setup(a=1)
    with pytest.raises(ValueError, match="routed already"):
        router.add(_Named("a"))

    class Boasting(_Named):
        capabilities = frozenset({Capability.CHAT, Capability.EMBEDDINGS})  # no embed()

    with pytest.raises(TypeError, match="declares embeddings but does not implement it"):
        router.add(Boasting("c"))
