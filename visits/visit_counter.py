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


class NotShared(Exception):
    """The counter lives in one process's memory, out of reach of any other."""


# Atomic on the server: SET only when higher, so a raise never loses an increment
# made meanwhile and never lowers the counter.
_RAISE_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(ARGV[1])
if current < target then
    redis.call('SET', KEYS[1], ARGV[1])
    return {current, target}
end
return {current, current}
"""


def raise_to(target: int) -> tuple[int, int] | tuple[None, None]:
    """Set the counter to target if it is lower; (before, after), or Nones if unreachable."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        raise NotShared(
            "The visit counter lives in the web server's local memory, which no other "
            "process can reach; set CACHE_HOST to keep it in Redis."
        )
    try:
        client = cache.client.get_client(write=True)
        before, after = client.eval(_RAISE_SCRIPT, 1, cache.make_key(COUNTER_KEY), target)
    except _UNREACHABLE as error:
        logger.warning("Visit counter not raised: the cache is unreachable (%s).", error)
        return None, None
    return int(before), int(after)


def engine_name() -> str:
    """The name of the cache product holding the counter, as shown to people."""
    if isinstance(caches[DEFAULT_CACHE_ALIAS], RedisCache):
        return "Redis"
    return _("Local memory")
