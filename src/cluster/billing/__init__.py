"""Money: a double-entry ledger in integer micro-USDC, holds before work and captures after, prices."""

from cluster.billing.service import AccountPayment, BillingService

__all__ = ["AccountPayment", "BillingService"]
