"""Every modality's usage priced in integer micro-USDC, rounded up once per request."""

from cluster.billing.pricing import cost
from cluster.metering import Usage
from cluster.settings import ModelConfig


def test_each_unit_at_its_price() -> None:
    model = ModelConfig(
        id="m",
        input_price=150_000,  # $0.15 per 1M input tokens
        output_price=600_000,
        character_price=15_000_000,  # $15 per 1M characters (speech)
        second_price=100,  # $0.006 a minute (transcription)
        image_price=40_000,  # $0.04 an image
        search_price=2_000,  # $2 per 1,000 searches (rerank)
    )
    assert cost(model, Usage(prompt_tokens=1_000_000)) == 150_000
    assert cost(model, Usage(completion_tokens=1)) == 1, "a fraction of a micro-USDC is rounded up"
    assert cost(model, Usage(characters=1_000)) == 15_000
    assert cost(model, Usage(seconds=60)) == 6_000
    assert cost(model, Usage(images=2)) == 80_000
    assert cost(model, Usage(searches=3)) == 6_000
    both = Usage(prompt_tokens=10, completion_tokens=10, characters=10, seconds=1, images=1, searches=1)
    per_million = 10 * 150_000 + 10 * 600_000 + 10 * 15_000_000  # 157.5 micro-USDC, rounded up once: 158
    assert cost(model, both) == 158 + 100 + 40_000 + 2_000
    assert per_million == 157_500_000


def test_a_free_model_costs_nothing() -> None:
    assert cost(ModelConfig(id="free"), Usage(1_000, 1_000, 1_000, 60, 1, 1)) == 0
