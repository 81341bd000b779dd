"""The ``cluster`` command."""

from cluster.cli.main import app

__all__ = ["app"]
