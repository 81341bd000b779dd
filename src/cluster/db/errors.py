"""Which failures mean "the database cannot be reached" (an outage, a restart, a cut connection) rather than a bug:
those become ``DatabaseUnavailable`` (503, Retry-After) where they meet the HTTP layer; the rest stay errors."""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_NETWORK = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE}


def unreachable(error: BaseException) -> bool:
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    # asyncio reports a refused connect as a plain OSError carrying the errno (asyncpg passes it on unwrapped)
    return isinstance(error, OSError) and error.errno in _NETWORK
