"""The Files and fine-tuning jobs APIs through OpenAI's own client (no trainer runs here: jobs stay queued)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai
import pytest

from cluster.finetune.models import JobRow
from cluster_sdk import AsyncCluster
from tests.conftest import Secured
from tests.finetune import parrot
from tests.finetune.conftest import openai_client

CHAT = "".join(json.dumps(row) + "\n" for row in parrot.rows()).encode()


async def test_files_are_uploaded_validated_listed_read_and_deleted(api: Secured) -> None:
    _, key = await api.new_user()
    client = openai_client(api, key)
    created = await client.files.create(file=("parrot.jsonl", CHAT), purpose="fine-tune")
    assert created.bytes == len(CHAT) and created.purpose == "fine-tune" and created.id.startswith("file-")
    assert created.model_extra and created.model_extra["lines"] == len(parrot.rows())
    assert (await client.files.retrieve(created.id)).filename == "parrot.jsonl"
    assert [f.id for f in (await client.files.list()).data] == [created.id]
    assert (await client.files.content(created.id)).content == CHAT
    _, other_key = await api.new_user()
    with pytest.raises(openai.NotFoundError):  # another user's file does not exist for them
        await openai_client(api, other_key).files.retrieve(created.id)
    assert (await client.files.delete(created.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(created.id)


async def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_kept(api: Secured) -> None:
    _, key = await api.new_user()
    client = openai_client(api, key)
    good = json.dumps(parrot.rows()[0])
    bad = f'{good}\n{{"messages": [{{"role": "user", "content": "hi"}}]}}\n{good}\nnot json\n'.encode()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "invalid_file"
    assert "line 2: no assistant message" in error["message"] and "line 4: not JSON" in error["message"]
    with pytest.raises(openai.BadRequestError, match="purpose"):
        await client.files.create(file=("x.jsonl", CHAT), purpose="assistants")  # type: ignore[arg-type]
    assert (await client.files.list()).data == []
    services = api.app.state.services  # type: ignore[attr-defined]
    assert list(services.fine_tuning.files.folder.iterdir()) == []  # no partial upload left behind


async def test_a_job_is_created_listed_read_and_cancelled(api: Secured) -> None:
    _, key = await api.new_user()
    client = openai_client(api, key)
    file = await client.files.create(file=("parrot.jsonl", CHAT), purpose="fine-tune")
    job = await client.fine_tuning.jobs.create(
        model="smollm2", training_file=file.id, hyperparameters={"n_epochs": 2}, suffix="parrot", seed=7
    )
    assert job.status == "queued" and job.model == "smollm2-135m-instruct"  # the alias resolves to the base
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 4
    assert job.hyperparameters.learning_rate_multiplier == 1.0 and job.seed == 7
    assert job.fine_tuned_model is None and job.training_file == file.id
    assert [j.id for j in (await client.fine_tuning.jobs.list()).data] == [job.id]
    events = (await client.fine_tuning.jobs.list_events(job.id)).data
    assert [e.message for e in reversed(events)] == [
        f"Created fine-tuning job: {job.id}",
        f"Validated training data (file {file.id}): {len(parrot.rows())} examples",
        "Job enqueued; it will start when a trainer is free",
    ]
    assert (await client.fine_tuning.jobs.checkpoints.list(job.id)).data == []
    _, other_key = await api.new_user()
    with pytest.raises(openai.NotFoundError):
        await openai_client(api, other_key).fine_tuning.jobs.retrieve(job.id)
    folder = api.app.state.services.fine_tuning.workdir / job.id  # type: ignore[attr-defined]
    assert (folder / "train.jsonl").exists()
    cancelled = await client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at
    assert not (folder / "train.jsonl").exists()  # the data copy of a job that never ran goes with it
    with pytest.raises(openai.BadRequestError, match="already cancelled"):
        await client.fine_tuning.jobs.cancel(job.id)


async def test_jobs_that_cannot_run_are_refused_clearly(api: Secured) -> None:
    _, key = await api.new_user()
    client = openai_client(api, key)
    file = await client.files.create(file=("parrot.jsonl", CHAT), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        await client.fine_tuning.jobs.create(model="gpt-99", training_file=file.id)
    with pytest.raises(openai.BadRequestError, match="cannot be fine-tuned here") as caught:
        await client.fine_tuning.jobs.create(model="all-minilm-l6-v2", training_file=file.id)
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_available"
    with pytest.raises(openai.NotFoundError):
        await client.fine_tuning.jobs.create(model="smollm2", training_file="file-nope")
    with pytest.raises(openai.BadRequestError, match="exactly one of training_file or dataset"):
        await client.fine_tuning.jobs.create(
            model="smollm2", training_file=file.id, extra_body={"dataset": "parrot-talk"}
        )
    with pytest.raises(openai.BadRequestError, match="n_epochs"):
        await client.fine_tuning.jobs.create(model="smollm2", training_file=file.id, hyperparameters={"n_epochs": 0})
    with pytest.raises(openai.NotFoundError, match="the marketplace is disabled"):  # no chain in this test
        await client.fine_tuning.jobs.create(model="smollm2", training_file=None, extra_body={"dataset": "parrot"})  # type: ignore[arg-type]
    assert (await client.fine_tuning.jobs.list()).data == []
    services = api.app.state.services  # type: ignore[attr-defined]
    assert list(services.fine_tuning.workdir.iterdir()) == []  # refused jobs leave no folder


async def test_the_sdk_drives_files_and_jobs(api: Secured, tmp_path: Path) -> None:
    _, key = await api.new_user()
    source = parrot.write(tmp_path / "parrot.jsonl")
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with AsyncCluster(
        "http://cluster", api_key=key, http_client=httpx.AsyncClient(transport=transport)
    ) as client:
        file = await client.files.create(source)
        job = await client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=file.id, suffix="sdk")
        assert job.status == "queued" and not job.done
        assert (await client.fine_tuning.jobs.retrieve(job.id)).id == job.id
        assert [j.id for j in await client.fine_tuning.jobs.list()] == [job.id]
        assert len(await client.fine_tuning.jobs.list_events(job.id)) == 3
        assert (await client.fine_tuning.jobs.cancel(job.id)).done


async def test_the_queue_is_on_metrics(api: Secured, tmp_path: Path) -> None:
    """What an operator watches: jobs waiting, how long the oldest has waited, this process's busy slots."""
    from cluster.finetune.runner import JobRunner
    from cluster.metering.metrics import Metrics

    _, key = await api.new_user()
    client = openai_client(api, key)
    file = await client.files.create(file=("parrot.jsonl", CHAT), purpose="fine-tune")
    await client.fine_tuning.jobs.create(model="smollm2", training_file=file.id)
    services = api.app.state.services  # type: ignore[attr-defined]
    runner = JobRunner(services.engine, services.settings.finetune, None, tmp_path, {}, services.billing)  # type: ignore[arg-type]  # no trainer: it never claims here
    await runner.measure()
    metrics = Metrics()
    metrics.live(runner.gauges)
    text = metrics.exposition().decode()
    assert 'cluster_finetune_jobs{status="queued"} 1.0' in text
    assert 'cluster_finetune_jobs{status="running"} 0.0' in text
    assert 'cluster_finetune_slots{state="busy"} 0.0' in text
    age = next(line for line in text.splitlines() if line.startswith("cluster_finetune_oldest_queued_seconds "))
    assert 0 <= float(age.split()[1]) < 60


async def test_a_heartbeat_never_interrupts_a_job_settling_its_charge(api: Secured, tmp_path: Path) -> None:
    """A job this worker is ending is no longer 'running': its task is settling the charge (the refund), and
    the heartbeat must leave it alone (it cancelled it once in CI, and the refund was never paid). A job ended by
    another worker (taken over while this one stalled), or cancelled through the API, is still stopped here."""
    from sqlalchemy import update

    from cluster.finetune.runner import JobRunner

    _, key = await api.new_user()
    client = openai_client(api, key)
    file = await client.files.create(file=("parrot.jsonl", CHAT), purpose="fine-tune")
    jobs = [(await client.fine_tuning.jobs.create(model="smollm2", training_file=file.id)).id for _ in range(3)]
    services = api.app.state.services  # type: ignore[attr-defined]
    runner = JobRunner(services.engine, services.settings.finetune, None, tmp_path, {}, services.billing)  # type: ignore[arg-type]
    ending, elsewhere, cancelled = jobs
    async with services.engine.begin() as connection:
        for job_id, status in ((ending, "succeeded"), (elsewhere, "succeeded"), (cancelled, "cancelled")):
            await connection.execute(update(JobRow).where(JobRow.id == job_id).values(status=status, worker=None))
    tasks = {job_id: asyncio.create_task(asyncio.sleep(30)) for job_id in jobs}
    runner._tasks.update(tasks)  # what the runner holds mid-job
    runner._ending.add(ending)  # _succeed marks it before its update
    await runner._heartbeat()
    await asyncio.sleep(0)
    assert [tasks[j].cancelled() for j in jobs] == [False, True, True]
    tasks[ending].cancel()
