"""``cluster finetune create|list|get|events|cancel`` and ``cluster royalties payout``: fine-tuning from a
terminal, through a running server's API (``--url``, ``--api-key`` or ``CLUSTER_URL`` / ``CLUSTER_API_KEY``).

``create`` follows the job until it ends, printing each event as it happens (steps with their loss)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cluster.cli.datasets import Key, Url, _client

finetune_app = typer.Typer(no_args_is_help=True, help="Fine-tune models, through a running server's API.")
royalties_app = typer.Typer(no_args_is_help=True, help="Royalties from models trained on marketplace datasets.")


@finetune_app.command("create")
def create(
    model: Annotated[str, typer.Option(help="the base model (e.g. smollm2-135m-instruct)")],
    dataset: Annotated[str | None, typer.Option(help="a marketplace dataset's slug you hold access to")] = None,
    file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="or a local chat JSONL")] = None,
    epochs: Annotated[int | None, typer.Option(help="passes over the data (default: the server's)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="examples per step")] = None,
    learning_rate_multiplier: Annotated[float | None, typer.Option(help="times the server's base rate")] = None,
    suffix: Annotated[str | None, typer.Option(help="part of the model's name: ft:<base>:<suffix>:<job>")] = None,
    public: Annotated[bool, typer.Option(help="let anyone call the model")] = False,
    follow: Annotated[bool, typer.Option(help="print events until the job ends")] = True,
    url: Url = "http://127.0.0.1:8000",
    api_key: Key = "",
) -> None:
    """Start a job on a dataset (or a file) and follow it live."""
    if (dataset is None) == (file is None):
        raise typer.BadParameter("give exactly one of --dataset or --file")
    client = _client(url, api_key)
    training_file = client.files.create(file).id if file is not None else None
    hyper = {"n_epochs": epochs, "batch_size": batch_size, "learning_rate_multiplier": learning_rate_multiplier}
    job = client.fine_tuning.jobs.create(
        model=model,
        dataset=dataset,
        training_file=training_file,
        hyperparameters={k: v for k, v in hyper.items() if v is not None} or None,
        suffix=suffix,
        public=public,
    )
    typer.echo(f"job {job.id}: {job.status}")
    if follow:
        job = _follow(client, job.id)
        if job.status != "succeeded":
            raise typer.Exit(1)


def _follow(client: Any, job_id: str, poll: float = 1.0) -> Any:
    seen: set[str] = set()
    while True:
        events = client.fine_tuning.jobs.list_events(job_id, limit=100).data  # the newest 100
        for event in reversed(events):  # oldest first
            if event.id not in seen:
                seen.add(event.id)
                stamp = time.strftime("%H:%M:%S", time.localtime(event.created_at))
                typer.echo(f"{stamp} {event.level:5} {event.message}")
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.done:
            typer.echo(json.dumps(job.model_dump(), indent=1))
            return job
        time.sleep(poll)


@finetune_app.command("list")
def list_(url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    for job in _client(url, api_key).fine_tuning.jobs.list(limit=100):
        typer.echo(f"{job.id:32} {job.status:10} {job.model:28} {job.fine_tuned_model or ''}")


@finetune_app.command("get")
def get(job_id: str, url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    typer.echo(json.dumps(_client(url, api_key).fine_tuning.jobs.retrieve(job_id).model_dump(), indent=1))


@finetune_app.command("events")
def events(
    job_id: str,
    follow: Annotated[bool, typer.Option(help="keep printing until the job ends")] = False,
    url: Url = "http://127.0.0.1:8000",
    api_key: Key = "",
) -> None:
    client = _client(url, api_key)
    if follow:
        _follow(client, job_id)
        return
    for event in reversed(list(client.fine_tuning.jobs.list_events(job_id, limit=1000))):  # every page, oldest first
        typer.echo(f"{event.level:5} {event.message}")


@finetune_app.command("cancel")
def cancel(job_id: str, url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    typer.echo(_client(url, api_key).fine_tuning.jobs.cancel(job_id).status)


@royalties_app.command("payout")
def payout(url: Url = "http://127.0.0.1:8000", api_key: Key = "") -> None:
    """Pay every dataset's unpaid royalties on chain now (admin)."""
    client = _client(url, api_key)
    typer.echo(json.dumps(client.call("POST", "/admin/royalties/payout", None, lambda d: d), indent=1))
