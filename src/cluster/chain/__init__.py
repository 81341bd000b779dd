"""The settlement layer: Cluster's contracts, chain access, the embedded dev chain and the event indexer."""
