"""Agents as economic actors: ERC-8004 identities Cluster manages for its users (registered on chain, with a
custodial wallet proved to the registry), their registration files, and (next) reputation from metered usage."""
