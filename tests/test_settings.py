from pathlib import Path

import pytest

from cluster.settings import Settings

TOML = """
data_dir = "/tmp/cluster-from-toml"
[server]
port = 9100
[[providers]]
name = "vllm-a"
base_url = "http://10.0.0.1:8000/v1"
models = ["llama-3.1-8b"]
[[providers]]
name = "ollama"
base_url = "http://127.0.0.1:11434/v1"
models = { "llama-3.1-8b" = "llama3.1:8b" }
weight = 2
[[models]]
id = "llama-3.1-8b"
aliases = ["llama3"]
input_price = 100000
output_price = 200000
"""


def test_toml_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(TOML)
    settings = Settings.load(path)
    assert settings.server.port == 9100
    assert [p.name for p in settings.providers] == ["vllm-a", "ollama"]
    assert settings.providers[0].models == {"llama-3.1-8b": "llama-3.1-8b"}
    assert settings.providers[1].models == {"llama-3.1-8b": "llama3.1:8b"}
    assert settings.models[0].input_price == 100_000


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(TOML)
    monkeypatch.setenv("CLUSTER_SERVER__PORT", "9200")
    monkeypatch.setenv("CLUSTER_PROVIDERS", '[{"name": "env", "base_url": "http://e/v1", "models": ["m"]}]')
    settings = Settings.load(path)
    assert settings.server.port == 9200
    assert [p.name for p in settings.providers] == ["env"]


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Settings.load(tmp_path / "nope.toml")


def test_remote_provider_needs_url() -> None:
    with pytest.raises(ValueError, match="needs base_url"):
        Settings(providers=[{"name": "x", "models": ["m"]}])  # type: ignore[list-item]


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/cluster.db"


def test_provider_names_are_unique() -> None:
    import pydantic

    twice = [{"name": "a", "base_url": "http://127.0.0.1:9/v1"}] * 2
    with pytest.raises(pydantic.ValidationError, match="provider names must be unique"):
        Settings(providers=twice)  # type: ignore[arg-type]


def test_the_readme_configuration_is_valid(tmp_path: Path) -> None:
    """Every ``toml`` block the README shows loads as it is written."""
    from tests.support import ROOT

    blocks = (ROOT / "README.md").read_text().split("```toml\n")[1:]
    assert blocks
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme-{index}.toml"
        path.write_text(block.split("```", 1)[0])
        Settings.load(path)


def test_clusters_agent_roles_never_share_a_key() -> None:
    """An attestor that is also the agents' operator would have every score it posts refused by the registry."""
    from cluster.settings.accounts import AgentSettings

    AgentSettings(operator_key="0x" + "11" * 32, attestor_key="0x" + "22" * 32, validator_key="0x" + "33" * 32)
    with pytest.raises(ValueError, match="three different keys"):
        AgentSettings(operator_key="0x" + "11" * 32, attestor_key="11" * 32)
