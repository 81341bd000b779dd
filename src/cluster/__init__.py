"""Cluster: open, self-hostable, private AI infrastructure."""

__version__ = "0.1.0"
