"""The remote trainer: one Cluster forwards a job to another Cluster's fine-tuning API (any OpenAI-compatible
trainer would do), relays its events, and serves the resulting model by routing to that upstream."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cluster.app import create_app
from tests.finetune.conftest import ft_settings, messages, openai_client, running, wait_for
from tests.finetune.test_training import chat_file
from tests.support import ServerThread, bootstrap_admin

pytestmark = pytest.mark.slow


async def test_a_job_forwarded_to_a_remote_trainer_is_served_through_it(tmp_path: Path) -> None:
    upstream_settings = ft_settings(tmp_path / "remote")
    _, remote_admin = await bootstrap_admin(upstream_settings)
    with ServerThread(create_app(upstream_settings)) as remote:
        async with httpx.AsyncClient(base_url=remote.url, headers={"authorization": f"Bearer {remote_admin}"}) as http:
            tenant = (await http.post("/v1/users", json={"name": "front"})).json()["id"]
            remote_key = (await http.post("/v1/keys", json={"user_id": tenant})).json()["key"]
            credit = {"user_id": tenant, "amount": 10_000_000, "idempotency_key": "front"}
            assert (await http.post("/v1/admin/credit", json=credit)).status_code == 200
        front_settings = ft_settings(
            tmp_path / "front",
            finetune={"trainer": "remote", "remote_url": f"{remote.url}/v1", "remote_key": remote_key},
        )
        async with running(front_settings) as front:
            _, key = await front.new_user(credit=10_000_000)
            client = openai_client(front, key)
            file = await client.files.create(file=("p.jsonl", chat_file(8)), purpose="fine-tune")
            job = await client.fine_tuning.jobs.create(
                model="smollm2", training_file=file.id, hyperparameters={"n_epochs": 1}, suffix="far"
            )
            done = await wait_for(front.http, job.id, key, lambda j: j["status"] == "succeeded")
            name = f"ft:smollm2-135m-instruct:far:{job.id}"
            assert done["fine_tuned_model"] == name
            texts = await messages(front.http, job.id, key)
            assert any(t.startswith("Submitted to the remote trainer as ftjob-") for t in texts)
            assert any(t.startswith("[remote] Step 2/2: training loss=") for t in texts)  # relayed as they came
            response = await front.http.post(
                "/v1/chat/completions",
                json={"model": name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
                headers={"authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-cluster-provider"] == f"ft/{job.id}"
            assert response.json()["choices"][0]["message"]["content"]
        async with httpx.AsyncClient(base_url=remote.url, headers={"authorization": f"Bearer {remote_key}"}) as http:
            remote_jobs = (await http.get("/v1/fine_tuning/jobs")).json()["data"]
        assert [j["status"] for j in remote_jobs] == ["succeeded"]  # trained there, once
