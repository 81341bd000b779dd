"""The operator commands, against a real SQLite data dir."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLUSTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLUSTER_LOCAL__ENABLED", "false")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_admin_init_keys_credit_balance_usage(run) -> None:  # type: ignore[no-untyped-def]
    out = run("admin", "init")
    admin_id = out.split("admin user: ")[1].split()[0]
    assert "sk-cluster-" in out
    assert "already exists" in run("admin", "init", code=1)

    user = run("users", "create", "alice").strip()
    key_id, key = run("keys", "create", "--user", user, "--scopes", "read").split()
    assert key.startswith("sk-cluster-")
    assert key_id in run("keys", "list", "--user", user)
    assert "revoked" in run("keys", "revoke", key_id)

    assert json.loads(run("credit", user, "12.5", "dep-1"))["available"] == 12_500_000
    assert json.loads(run("credit", user, "12.5", "dep-1"))["available"] == 12_500_000, "idempotent"
    assert json.loads(run("debit", user, "0.000001", "w-1"))["available"] == 12_499_999
    run("debit", user, "100", "w-2", code=1)
    assert json.loads(run("balance", user))["held"] == 0
    assert json.loads(run("usage", admin_id))["total"]["requests"] == 0


def test_rotate_keys_needs_no_chain(run) -> None:  # type: ignore[no-untyped-def]
    """Re-wrapping dataset keys reads the database and the master keys only (the chain may be off)."""
    assert "re-wrapped 0 dataset keys" in run("admin", "rotate-keys")


def test_models_lists_the_catalog_the_service_serves(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLUSTER_PROVIDERS", '[{"name": "up", "base_url": "http://127.0.0.1:9/v1", "models": ["m"]}]')
    assert "via up" in run("models")
