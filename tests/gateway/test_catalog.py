import pytest

from cluster.errors import ModelNotFound
from cluster.gateway.catalog import Catalog
from cluster.settings import ModelConfig, ProviderConfig


def providers() -> list[ProviderConfig]:
    return [
        ProviderConfig(name="a", base_url="http://a/v1", models={"llama": "meta/llama", "bge": "bge"}),
        ProviderConfig(name="b", base_url="http://b/v1", models=["llama"]),
    ]


def test_resolves_ids_and_aliases_to_all_routes() -> None:
    catalog = Catalog([ModelConfig(id="llama", aliases=["l3"], input_price=150_000)], providers())
    entry = catalog.resolve("l3")
    assert entry.id == "llama"
    assert [(r.provider, r.upstream_model) for r in entry.routes] == [("a", "meta/llama"), ("b", "llama")]
    card = catalog.card(entry)
    assert card.pricing.input == 150_000 and card.providers == ["a", "b"]


def test_unknown_model_is_model_not_found() -> None:
    with pytest.raises(ModelNotFound) as info:
        Catalog([], providers()).resolve("gpt-9")
    assert info.value.status == 404 and info.value.code == "model_not_found"


def test_served_but_undeclared_models_are_listed_with_a_guessed_task() -> None:
    catalog = Catalog([], providers())
    assert {e.id: e.model.task for e in catalog.entries()} == {"bge": "chat", "llama": "chat"}


def test_declared_but_unserved_models_are_not_listed() -> None:
    catalog = Catalog([ModelConfig(id="ghost")], providers())
    with pytest.raises(ModelNotFound):
        catalog.resolve("ghost")


def test_a_name_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="used twice"):
        Catalog([ModelConfig(id="llama", aliases=["bge"])], providers())
