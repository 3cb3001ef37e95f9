"""Django's PostgreSQL backend with a health check that costs no round trip."""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        """
        Django checks a persistent connection (with DB_POOL_SIZE=0) before each
        request's first query (CONN_HEALTH_CHECKS); its SELECT 1 is a round trip
        per request, one of the page's largest costs when profiled
        (docs/benchmark.md, "The hot path"). An
        idle connection has nothing to read unless the server closed it, as
        PostgreSQL does when it shuts down or restarts, or sent a notice: only
        then is the full check run.
        """
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
