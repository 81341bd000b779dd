"""The operator commands, against a real SQLite data dir."""

import html
import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cluster.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLUSTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLUSTER_LOCAL__ENABLED", "false")
    monkeypatch.setenv("CLUSTER_CHAIN__ENABLED", "false")
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


def test_the_readme_first_call_works_after_admin_init(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """README: `cluster admin init`, then the README's Python block verbatim (chat, embeddings, speech and its
    transcription with the bundled models) against a real server, with the printed key and nothing else."""
    from cluster.app import create_app
    from cluster.settings import Settings
    from tests.support import ROOT, ServerThread

    out = run("admin", "init", "--email", "You@Example.org")  # as the README shows
    assert "development balance: 10.00 USDC" in out and "Hub sign-in: you@example.org" in out
    key = out.split("\n")[2].strip()
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "sk-cluster-…" in block and "http://127.0.0.1:8000/v1" in block
    app = create_app(Settings(data_dir=tmp_path, chain={"enabled": False}, local={"enabled": True}))
    with ServerThread(app) as server:
        code = block.replace("sk-cluster-…", key).replace("http://127.0.0.1:8000", server.url)
        scope: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), scope)
        # the Hub on the same server: the admin asks for a link, which waits in the outbox (no SMTP configured)
        with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
            assert browser.post("/auth/email", data={"email": "you@example.org"}).status_code == 200
            assert browser.get("/dev/outbox").status_code == 403  # live sign-in links: admins only
            link = re.search(r"(http\S+/auth/email/callback\?token=\S+)", run("outbox"))
            assert link
            confirm = browser.get(link.group(1))  # a page with a button: a mail scanner's GET spends nothing
            token = re.search(r'name="token" value="([^"]+)"', confirm.text)
            assert token
            signed_in = browser.post("/auth/email/callback", data={"token": html.unescape(token.group(1))})
            assert signed_in.url.path == "/dashboard"
            assert browser.get("/admin").status_code == 200 and browser.get("/dev/outbox").status_code == 200
    from cluster.media.audio import decode

    assert decode(scope["speech"].content, max_seconds=60).seconds > 0.5  # type: ignore[attr-defined]  # mp3


def test_a_configured_database_gets_no_development_balance(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("CLUSTER_DATABASE_URL", postgres_url)
    out = run("admin", "init")
    admin_id = out.split("admin user: ")[1].split()[0]
    assert "development balance" not in out
    assert json.loads(run("balance", admin_id))["available"] == 0


def test_the_cli_takes_and_shows_usdc() -> None:
    import typer

    from cluster.cli.money import micro, usdc

    assert micro("2.5") == 2_500_000 and micro("0.000001") == 1
    for bad in ("0", "-1", "abc", "0.0000001", "inf", "nan"):
        with pytest.raises(typer.BadParameter):
            micro(bad)
    assert usdc(10_000_000) == "10.00" and usdc(150) == "0.00015" and usdc(10_000) == "0.01"
