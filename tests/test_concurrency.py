import re
from concurrent.futures import ThreadPoolExecutor

from visits import visit_counter
from visits.models import Access
from visits.storage import access_count

REQUESTS = 500
IN_FLIGHT = 32
SENTENCE = re.compile(r"Banco PostgreSQL tem (\d+) registros\. Redis conta (\d+) visitas\.")


def test_concurrent_requests_on_several_workers_count_each_visit_once(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="3", WEB_THREADS="4")

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        replies = list(pool.map(lambda _: server.get("/"), range(REQUESTS)))

    assert [reply.status for reply in replies] == [200] * REQUESTS
    visit_numbers = sorted(int(SENTENCE.fullmatch(reply.body).group(2)) for reply in replies)
    assert visit_numbers == list(range(1, REQUESTS + 1))
    assert Access.objects.count() == REQUESTS
    assert access_count() == REQUESTS
    assert visit_counter.current() == REQUESTS
