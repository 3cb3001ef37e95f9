"""
The visit counter, kept in the cache framework's default cache, Redis: one
key, changed only by scripts that Redis runs atomically, across every worker;
it never expires.
"""

import logging
from typing import cast

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.commands.core import Script
from redis.exceptions import RedisError

COUNTER_KEY = "visit-counter"
# The id up to which rebuild_visit_counter counted every access: an increment
# for one of those is already in the counter. It expires long after any page
# view in flight during the rebuild has ended (gunicorn's WEB_TIMEOUT is 30 s),
# so that a database started anew, whose ids begin again at 1, is counted.
COUNTED_UP_TO_KEY = "visit-counter-counted-up-to"
COUNTED_UP_TO_SECONDS = 600

logger = logging.getLogger(__name__)

# django-redis re-raises the client's own error; ConnectionInterrupted covers
# versions that wrap it, OSError a socket timeout that escaped both.
UNREACHABLE = (RedisError, ConnectionInterrupted, OSError)

# Lua that Redis runs atomically, cached on the server and called by its digest
# (EVALSHA). Given as bytes, each Script is built once, with no client yet.
#
# One round trip that creates the counter without expiry when missing (the
# framework's default 300-second timeout must never apply to it).
_INCREMENT_SCRIPT = Script(
    None,  # type: ignore[arg-type]  # redis-py's types want a client; bytes need none
    b"""
local counted_up_to = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) <= counted_up_to then
    return tonumber(redis.call('GET', KEYS[1]) or '0')
end
return redis.call('INCR', KEYS[1])
""",
)


def increment(access_id: int) -> int | None:
    """
    Count the visit that stored access access_id and return the counter's new
    value; None if the cache is unreachable. A visit that a rebuild has counted
    already is not counted again.
    """
    cache = redis_cache()
    try:
        client = cache.client.get_client(write=True)
        keys = [cache.make_key(COUNTER_KEY), cache.make_key(COUNTED_UP_TO_KEY)]
        counted: int = _INCREMENT_SCRIPT(keys, [access_id], client=client)
        return counted
    except UNREACHABLE as error:
        logger.warning("Visit not counted: the cache is unreachable (%s).", error)
        return None


def current() -> int | None:
    """The counter's value, unchanged (0 before the first visit); None if unreachable."""
    try:
        return int(caches[DEFAULT_CACHE_ALIAS].get(COUNTER_KEY, 0))
    except UNREACHABLE as error:
        logger.warning("Visit counter unreadable: the cache is unreachable (%s).", error)
        return None


# Atomic on the server: SET only when higher, so a raise never loses an increment
# made meanwhile and never lowers the counter; and when it raises, it records the
# id up to which the new value counts every access.
_RAISE_SCRIPT = Script(
    None,  # type: ignore[arg-type]  # redis-py's types want a client; bytes need none
    b"""
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(ARGV[1])
if current < target then
    redis.call('SET', KEYS[1], ARGV[1])
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
    return {current, target}
end
return {current, current}
""",
)


def raise_to(target: int, *, counted_up_to: int) -> tuple[int, int] | tuple[None, None]:
    """
    Set the counter to target, the number of accesses whose ids are all at most
    counted_up_to, if it is lower; (before, after), or Nones if unreachable.
    """
    cache = redis_cache()
    try:
        client = cache.client.get_client(write=True)
        keys = [cache.make_key(COUNTER_KEY), cache.make_key(COUNTED_UP_TO_KEY)]
        arguments = [target, counted_up_to, COUNTED_UP_TO_SECONDS]
        before, after = _RAISE_SCRIPT(keys, arguments, client=client)
    except UNREACHABLE as error:
        logger.warning("Visit counter not raised: the cache is unreachable (%s).", error)
        return None, None
    return int(before), int(after)


def set_to(target: int, *, counted_up_to: int) -> tuple[int, int] | tuple[None, None]:
    """
    Set the counter to target, higher or lower (a restored database's accesses),
    in one MULTI with the id up to which it counts every access, replacing one
    that a rebuild over the previous database left, which would keep the next
    visits uncounted; (before, after), or Nones if unreachable.
    """
    cache = redis_cache()
    try:
        client = cache.client.get_client(write=True)
        pipeline = client.pipeline(transaction=True)
        pipeline.get(cache.make_key(COUNTER_KEY))
        pipeline.set(cache.make_key(COUNTER_KEY), target)
        pipeline.set(cache.make_key(COUNTED_UP_TO_KEY), counted_up_to, ex=COUNTED_UP_TO_SECONDS)
        before, _, _ = pipeline.execute()
    except UNREACHABLE as error:
        logger.warning("Visit counter not set: the cache is unreachable (%s).", error)
        return None, None
    return int(before or 0), target


def product_name() -> str:
    """The name of the cache product holding the counter, as shown to people."""
    return "Redis"


def redis_cache() -> RedisCache:
    """The default cache, which the settings make Redis."""
    return cast(RedisCache, caches[DEFAULT_CACHE_ALIAS])
