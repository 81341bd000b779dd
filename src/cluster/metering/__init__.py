"""What was served: the usage a request consumed, per-request metadata records, written to the database in
batches off the hot path, and the daily rollups analytics read."""

from cluster.metering.records import RequestRecord
from cluster.metering.units import Usage
from cluster.metering.writer import RequestLogWriter

__all__ = ["RequestLogWriter", "RequestRecord", "Usage"]
