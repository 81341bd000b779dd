"""What a fine-tuning job costs: ``finetune.training_price`` per 1M trained (assistant) tokens.

Charged up front at creation for an upper bound — every byte of the training file a token (a token is at least a
byte) plus the chat template's tokens per example, times the epochs — so a job never runs on credit; when it
succeeds, the bound minus the actual cost is refunded; when it fails or is cancelled, all of it. A job's charge and
its refund are each one ledger posting keyed by the job, so retries and crashes cannot double either. Holds are not
used: they belong to a live process, and a job outlives restarts.
"""

from __future__ import annotations

import math

from cluster.billing import BillingService

TEMPLATE_TOKENS_PER_EXAMPLE = 64  # role markers and the default system prompt the chat template adds


def bound(price: int, file_bytes: int, examples: int, epochs: int) -> int:
    return cost(price, (file_bytes + TEMPLATE_TOKENS_PER_EXAMPLE * examples) * epochs)


def cost(price: int, tokens: int) -> int:
    return math.ceil(tokens * price / 1_000_000)


def final_cost(charged: int, trained_tokens: int | None, price: int) -> int:
    """What an ended job costs: its trained tokens at the price (never more than was charged); 0 unless it succeeded."""
    return 0 if trained_tokens is None else min(charged, cost(price, trained_tokens))


async def charge(billing: BillingService, user_id: str, job_id: str, amount: int) -> None:
    if amount > 0:
        await billing.charge(user_id, amount, f"finetune:{job_id}", f"fine-tuning job {job_id} (up to)")


async def settle(
    billing: BillingService, user_id: str, job_id: str, charged: int, trained_tokens: int | None, price: int
) -> int:
    """Refund what the job did not use (all of it if it did not succeed); returns what it finally cost."""
    final = final_cost(charged, trained_tokens, price)
    if charged - final > 0:
        await billing.refund(user_id, charged - final, f"finetune:{job_id}", f"fine-tuning job {job_id}: unused")
    return final
