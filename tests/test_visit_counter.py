from django.core.cache import cache

from visits import visit_counter


def test_increment_from_nothing_counts_one_then_two():
    assert [visit_counter.increment(1), visit_counter.increment(2)] == [1, 2]
    assert visit_counter.current() == 2


def test_increment_key_never_expires():
    visit_counter.increment(1)

    redis = cache.client.get_client(write=True)
    key = cache.make_key(visit_counter.COUNTER_KEY)
    assert key == "visits-test:1:visit-counter"
    assert redis.ttl(key) == -1


def test_current_before_first_visit_is_zero():
    assert visit_counter.current() == 0


def test_raise_counts_every_access_up_to_an_id_once_and_for_ten_minutes():
    visit_counter.increment(1)

    assert visit_counter.raise_to(7, counted_up_to=9) == (1, 7)
    assert [visit_counter.increment(9), visit_counter.increment(10)] == [7, 8]
    redis = cache.client.get_client(write=True)
    assert 590 < redis.ttl(cache.make_key(visit_counter.COUNTED_UP_TO_KEY)) <= 600


def test_raise_that_changes_nothing_leaves_later_increments_counted():
    for access_id in range(1, 6):
        visit_counter.increment(access_id)

    assert visit_counter.raise_to(3, counted_up_to=3) == (5, 5)
    assert visit_counter.increment(2) == 6
