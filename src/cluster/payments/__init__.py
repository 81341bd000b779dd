"""Paying per request without an account: x402 (HTTP 402 + a signed USDC authorization, EIP-3009)."""
