"""The inference request path: the catalog, the router over providers, admission and metering of each request."""
