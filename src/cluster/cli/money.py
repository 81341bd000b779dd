"""The CLI takes and shows decimal USDC (``2.50``); the service counts integer micro-USDC (1 USDC = 1,000,000)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer

_MICRO = Decimal(1_000_000)


def micro(amount: str) -> int:
    """A positive USDC amount typed by a person, as micro-USDC; a typo or a fraction of a micro-USDC is refused."""
    try:
        value = Decimal(amount) * _MICRO
    except InvalidOperation:
        raise typer.BadParameter(f"not a number: {amount}") from None
    if not value.is_finite() or value != value.to_integral_value() or value <= 0:
        raise typer.BadParameter("a positive amount with at most 6 decimals")
    return int(value)


def usdc(amount: int) -> str:
    """Micro-USDC shown as USDC, with no trailing zeros past the cents (``0.01``, ``0.000150``→``0.00015``)."""
    text = f"{Decimal(amount) / _MICRO:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
