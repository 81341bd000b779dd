import pytest

from cluster.db.engine import async_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/cluster", "postgresql+asyncpg://u:p@db:5432/cluster"),
        ("postgres://u@db/cluster", "postgresql+asyncpg://u@db/cluster"),
        ("postgresql+asyncpg://u@db/cluster", "postgresql+asyncpg://u@db/cluster"),
        ("sqlite:////var/lib/cluster/cluster.db", "sqlite+aiosqlite:////var/lib/cluster/cluster.db"),
    ],
)
def test_plain_urls_get_async_drivers(given: str, expected: str) -> None:
    assert async_url(given) == expected
