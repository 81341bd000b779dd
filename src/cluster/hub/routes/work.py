"""Fine-tuning (start a job, watch it, try the model it made), confidential receipts (verify each step), and the
admin's pages (users, credits, providers' health, royalties payout)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cluster.api.deps import fine_tuning_enabled
from cluster.billing.protocol import AdjustRequest
from cluster.errors import NotFound
from cluster.finetune.protocol import FineTuningJob, Hyperparameters, JobCreate, JobEvent
from cluster.hub.web import AdminDep, HubRoute, MemberDep, ServicesDep, VisitorDep, page
from cluster.tee.errors import VerificationFailed
from cluster.tee.receipts import verify_receipt

router = APIRouter(route_class=HubRoute, include_in_schema=False)


# -- fine-tuning --------------------------------------------------------------------------------------------
@router.get("/fine-tuning")
async def fine_tuning(
    request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep, dataset: str | None = None
) -> Response:
    """JSON twin: ``GET /v1/fine_tuning/jobs``."""
    jobs = await fine_tuning_enabled(request).list(caller, None, 50)
    owned = []
    if services.marketplace:
        owned = [d.slug for d in await services.marketplace.created(caller)]
        owned += [d.slug for d in (await services.marketplace.purchases(caller)).data if d.slug not in owned]
    bases = fine_tuning_enabled(request).trainable
    return page(request, "finetune.html", who, jobs=jobs.data, datasets=owned, bases=bases, chosen=dataset)


@router.post("/fine-tuning")
async def start(
    request: Request,
    caller: MemberDep,
    model: Annotated[str, Form(max_length=200)],
    dataset: Annotated[str, Form(max_length=64)],
    n_epochs: Annotated[int, Form(ge=1, le=50)] = 1,
    suffix: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    body = JobCreate(
        model=model,
        dataset=dataset,
        hyperparameters=Hyperparameters(n_epochs=n_epochs),
        suffix=suffix or None,
    )
    job = await fine_tuning_enabled(request).create(caller, body)
    return Response(status_code=204, headers={"HX-Redirect": f"/fine-tuning/{job.id}"})


def _loss(events: list[JobEvent]) -> dict[str, list[float | None]]:
    metrics = sorted((e.data for e in events if e.type == "metrics" and e.data), key=lambda d: d.get("step", 0))
    steps = sorted({int(d["step"]) for d in metrics if "step" in d})
    train = {int(d["step"]): d["train_loss"] for d in metrics if "train_loss" in d}
    valid = {int(d["step"]): d["valid_loss"] for d in metrics if "valid_loss" in d}
    return {"steps": steps, "train": [train.get(s) for s in steps], "valid": [valid.get(s) for s in steps]}  # type: ignore[dict-item]


@router.get("/fine-tuning/{job_id}")
async def job(job_id: str, request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twins: ``GET /v1/fine_tuning/jobs/{id}`` and ``/events``. HTMX polls the progress part each second
    until the job ends."""
    jobs = fine_tuning_enabled(request)
    found: FineTuningJob = await jobs.get(caller, job_id)
    events = (await jobs.events(caller, job_id, None, 500)).data
    context = {"job": found, "events": events[:30], "loss": _loss(events), "ended": found.status in ENDED}
    template = "finetune_progress.html" if request.headers.get("hx-request") else "finetune_job.html"
    model = None
    if found.fine_tuned_model:
        cards = await services.fine_tuned.cards(caller.user_id)
        model = next((c for c in cards if c.id == found.fine_tuned_model), None)
    # 286 tells HTMX to stop polling: the job has ended and this is its last state
    status = 286 if request.headers.get("hx-request") and found.status in ENDED else 200
    return page(request, template, who, status, m=model, **context)


ENDED = {"succeeded", "failed", "cancelled"}


# -- receipts -----------------------------------------------------------------------------------------------
@router.get("/receipts")
async def receipts(request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twin: ``GET /v1/receipts/{id}`` for each."""
    return page(request, "receipts.html", who, receipts=await services.receipts.recent(caller.user_id))


@router.post("/receipts/{receipt_id}/verify")
async def verify(
    receipt_id: str,
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    caller: MemberDep,
    allow_simulated: Annotated[bool, Form()] = False,
) -> Response:
    """The same checks as ``cluster verify`` (with the chain's ComposeRegistry when there is one), step by step."""
    receipt = await services.receipts.get(receipt_id, None if caller.is_admin else caller.user_id)
    if receipt is None:
        raise NotFound(f"no receipt {receipt_id!r}", param="receipt_id", code="receipt_not_found")
    chain = services.chain
    compose = chain.compose_allowed if chain else None
    try:
        steps = await verify_receipt(receipt, allow_simulated=allow_simulated, compose_allowed=compose)
        failed = None
    except VerificationFailed as failure:
        steps, failed = [], failure
    return page(request, "receipt_verified.html", who, receipt=receipt, steps=steps, failed=failed)


# -- admin --------------------------------------------------------------------------------------------------
@router.get("/admin")
async def admin(request: Request, services: ServicesDep, who: VisitorDep, _: AdminDep) -> Response:
    context = {
        "users": await services.auth.list_users(),
        "providers": services.inference.router.status(),
        "royalties": await services.royalties.pending() if services.royalties else None,
    }
    return page(request, "admin.html", who, **context)


@router.post("/admin/credit")
async def credit(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    _: AdminDep,
    user_id: Annotated[str, Form(max_length=64)],
    amount: Annotated[int, Form(gt=0, le=10**15)],
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    await services.auth.get_user(user_id)
    key = idempotency_key or f"hub-{uuid.uuid4().hex}"
    balance = await services.billing.credit(AdjustRequest(user_id=user_id, amount=amount, idempotency_key=key))
    return Response(f"Credited {amount} µUSDC to {user_id}: available {balance.available} µUSDC")


@router.post("/admin/royalties/payout")
async def payout(services: ServicesDep, _: AdminDep) -> Response:
    if services.royalties is None:
        raise NotFound("royalties need the chain")
    paid = await services.royalties.payout()
    return Response(f"Paid {len(paid)} royalty transfers")
