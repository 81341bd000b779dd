"""What was served: per-request metadata records, written to the database in batches off the hot path."""

from cluster.metering.records import RequestRecord
from cluster.metering.writer import RequestLogWriter

__all__ = ["RequestLogWriter", "RequestRecord"]
