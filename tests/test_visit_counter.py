from django.core.cache import cache

from visits import visit_counter


def test_increment_from_nothing_counts_one_then_two():
    assert [visit_counter.increment(), visit_counter.increment()] == [1, 2]
    assert visit_counter.current() == 2


def test_increment_key_never_expires():
    visit_counter.increment()

    redis = cache.client.get_client(write=True)
    key = cache.make_key(visit_counter.COUNTER_KEY)
    assert key == "visits-test:1:visit-counter"
    assert redis.ttl(key) == -1


def test_current_before_first_visit_is_zero():
    assert visit_counter.current() == 0
