"""``cluster serve``, ``models``, ``db`` and ``version``; the account commands live in ``accounts.py``."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from cluster import __version__
from cluster.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cluster: private AI infrastructure.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="cluster.toml to read (default: ./cluster.toml if present)"),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from settings: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings: 8000)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default from settings: 1)")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the gateway (uvloop + httptools, no access log)."""
    import uvicorn

    if config is not None:
        os.environ["CLUSTER_CONFIG"] = str(config.resolve())
    settings = Settings.load(config)  # each worker builds its own from the same environment and file
    workers = workers or settings.server.workers
    if workers > 1:  # metrics of every worker add up (prometheus_client's multiprocess mode)
        metrics = settings.data_dir / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics.resolve()))
    host = host or settings.server.host
    port = port or settings.server.port
    typer.echo(f"Cluster {__version__} on http://{host}:{port}  (data: {settings.data_dir.resolve()})")
    uvicorn.run(
        "cluster.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.server.forwarded_allow_ips,
        log_level="info",
        log_config=_log_config(),
        timeout_graceful_shutdown=10,
    )


@app.command()
def models(config: ConfigOption = None) -> None:
    """List the catalog this configuration serves."""
    from cluster.cli.money import usdc
    from cluster.gateway.assembly import build_catalog

    catalog, _ = build_catalog(Settings.load(config))
    for entry in catalog.entries():
        card = catalog.card(entry)
        typer.echo(
            f"{card.id:40} {card.task:10} in ${usdc(card.pricing.input)}/M out ${usdc(card.pricing.output)}/M  "
            f"via {', '.join(card.providers)}"
        )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations."""
    settings = Settings.load(config)
    asyncio.run(_migrate(settings))
    typer.echo("database is at head")


@app.command()
def version() -> None:
    typer.echo(__version__)


async def _migrate(settings: Settings) -> None:
    from cluster.db import make_engine, upgrade

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _register() -> None:
    from cluster.cli import accounts, chain, datasets, finetune, tee

    accounts.register(app)
    app.add_typer(chain.chain_app, name="chain")
    app.add_typer(datasets.datasets_app, name="datasets")
    app.command("earnings")(datasets.earnings)
    app.add_typer(finetune.finetune_app, name="finetune")
    app.add_typer(finetune.royalties_app, name="royalties")
    app.command("verify")(tee.verify)
    app.add_typer(tee.enclave_app, name="enclave")
    app.add_typer(tee.tee_app, name="tee")


_register()


def _log_config() -> dict[str, object]:
    """uvicorn's logging, plus Cluster's access log: one JSON line per request, on stdout."""
    from copy import deepcopy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = deepcopy(LOGGING_CONFIG)
    config["formatters"]["json_lines"] = {"format": "%(message)s"}
    config["handlers"]["json_lines"] = {
        "formatter": "json_lines",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["cluster.access"] = {"handlers": ["json_lines"], "level": "INFO", "propagate": False}
    return config
