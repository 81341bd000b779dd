"""Verifiable private inference: attestation of confidential (TEE) providers, checked step by step.

What a passing verification proves: the response was signed by a key that a genuine Intel TDX machine, running
the attested build (measurements, compose hash allowed on chain), bound to itself for our fresh nonce. It proves
nothing about Cluster's own process, which is outside the enclave.
"""
