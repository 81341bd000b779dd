"""Inference adapters: one small protocol per capability (``base``), the OpenAI-compatible base, local engines,
confidential (TEE) providers, and the registry that builds them from configuration."""
