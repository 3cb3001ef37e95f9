"""
The visit counter, kept in the cache framework's default cache.

With Redis the counter is one key incremented by a single INCRBY, which is
atomic across every worker and never expires. The local-memory fallback is
atomic within the one process that holds it.
"""

import logging

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.utils.translation import gettext as _
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

COUNTER_KEY = "visit-counter"

logger = logging.getLogger(__name__)

# django-redis re-raises the client's own error; ConnectionInterrupted covers
# versions that wrap it, OSError a socket timeout that escaped both.
_UNREACHABLE = (RedisError, ConnectionInterrupted, OSError)


def increment() -> int | None:
    """Add one visit and return the counter's new value; None if the cache is unreachable."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    try:
        if isinstance(cache, RedisCache):
            # One round trip that creates the key without expiry when missing:
            # the framework's default 300-second timeout must never apply.
            return cache.incr(COUNTER_KEY, ignore_key_check=True)
        cache.add(COUNTER_KEY, 0, timeout=None)
        return cache.incr(COUNTER_KEY)
    except _UNREACHABLE as error:
        logger.warning("Visit not counted: the cache is unreachable (%s).", error)
        return None


def current() -> int | None:
    """The counter's value, unchanged (0 before the first visit); None if unreachable."""
    try:
        return int(caches[DEFAULT_CACHE_ALIAS].get(COUNTER_KEY, 0))
    except _UNREACHABLE as error:
        logger.warning("Visit counter unreadable: the cache is unreachable (%s).", error)
        return None


def engine_name() -> str:
    """The name of the cache product holding the counter, as shown to people."""
    if isinstance(caches[DEFAULT_CACHE_ALIAS], RedisCache):
        return "Redis"
    return _("Local memory")
