"""``cluster datasets upload|list|download`` and ``cluster earnings``: the marketplace from a terminal, through
the HTTP API of a running server (``--url``, ``--api-key`` or ``CLUSTER_URL`` / ``CLUSTER_API_KEY``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cluster.cli.money import micro, usdc

datasets_app = typer.Typer(no_args_is_help=True, help="The data marketplace, through a running server's API.")

Url = Annotated[str, typer.Option(envvar="CLUSTER_URL", help="the server")]
Key = Annotated[str, typer.Option(envvar="CLUSTER_API_KEY", help="your API key")]


def _client(url: str, api_key: str):  # type: ignore[no-untyped-def]
    from cluster_sdk import Cluster

    return Cluster(url, api_key=api_key, timeout=3600)


@datasets_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[str, typer.Option(help="listing title")],
    slug: Annotated[str, typer.Option(help="unique id: 3-64 of a-z 0-9 -")],
    price: Annotated[str, typer.Option(help="USDC, e.g. 2.50")],
    category: Annotated[str, typer.Option(help="nlp vision audio medical financial social code other")],
    wallet: Annotated[str, typer.Option(help="your wallet: it receives the NFT and 85% of every sale")],
    license: Annotated[str, typer.Option(help="license name")] = "proprietary",
    description: Annotated[str, typer.Option(help="listing text")] = "",
    format: Annotated[str | None, typer.Option(help="jsonl csv parquet zip tar (default: from the name)")] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: Key = "",
) -> None:
    """Upload, encrypt, content-address and mint a dataset, with a progress bar."""
    size = file.stat().st_size
    with typer.progressbar(length=size, label=f"uploading {file.name}") as bar:
        sent = [0]

        def progress(total: int) -> None:
            bar.update(total - sent[0])
            sent[0] = total

        dataset = _client(url, api_key).datasets.create(
            file,
            name=name,
            slug=slug,
            price=micro(price) if price not in ("0", "0.0") else 0,
            category=category,
            wallet=wallet,
            license=license,
            description=description,
            format=format,
            progress=progress,
        )
    typer.echo(json.dumps(dataset.model_dump(), indent=1))


@datasets_app.command("list")
def list_(
    category: str | None = None, q: str | None = None, url: Url = "http://127.0.0.1:8000", api_key: Key = ""
) -> None:
    for dataset in _client(url, api_key).datasets.list(category=category, q=q, limit=100):
        typer.echo(f"{dataset.slug:40} {dataset.category:10} {usdc(dataset.price):>10} USDC  {dataset.size:>12} B")


@datasets_app.command("download")
def download(slug: str, destination: Path, url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    written = _client(url, api_key).datasets.download(slug, destination)
    typer.echo(f"{written} bytes -> {destination}")


def earnings(url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    """Sales of your datasets (to your linked wallets) and your referral payouts."""
    typer.echo(json.dumps(_client(url, api_key).datasets.earnings(), indent=1))
