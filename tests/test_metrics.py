"""Prometheus metrics (visits.metrics): right across gunicorn's workers, for operators only."""

import ipaddress
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from visits.counting import count_page_view
from visits.metrics import SCRAPE_PATH
from visits.models import Access


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_add_up_every_worker(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="3")
    before = samples(server.get("/metrics").body)
    for _ in range(40):
        assert server.get("/").status == 200
    for _ in range(2):
        assert server.get("/missing").status == 404

    after = samples(server.get("/metrics").body)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The first scrape is one of the 200s, counted once it was answered.
    assert grew("visits_http_requests_total", status="200") == 41
    assert grew("visits_http_requests_total", status="404") == 2
    assert grew("visits_http_request_duration_seconds_count") == 43
    assert grew("visits_accesses_recorded_total") == 40
    assert grew("visits_counted_total") == 40
    assert grew("visits_counter_unavailable_total") == 0
    assert value(after, "visits_counter_behind") == 0


def test_metrics_start_from_zero_in_a_given_folder_that_a_previous_run_filled(gunicorn, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    first = gunicorn(PROMETHEUS_MULTIPROC_DIR=str(folder))
    for _ in range(5):
        first.get("/")
    assert first.stop() == 0
    assert list(folder.glob("*.db"))

    second = gunicorn(PROMETHEUS_MULTIPROC_DIR=str(folder))
    scrape = samples(second.get("/metrics").body)

    assert value(scrape, "visits_accesses_recorded_total") == 0
    assert Access.objects.count() == 5


@pytest.mark.django_db
def test_metrics_report_the_counter_behind_and_since_when(client):
    count_page_view(client_address=None, user_agent="counted")
    Access.objects.bulk_create(Access(user_agent="uncounted") for _ in range(3))

    before = time.time()
    response = client.get(SCRAPE_PATH)  # the first reading to see it behind
    after = time.time()
    scrape = samples(response.content.decode())

    assert response["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert value(scrape, "visits_counter_behind") == 3
    assert before <= value(scrape, "visits_counter_behind_since_timestamp_seconds") <= after


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("allowed", "address", "status"),
    [
        (None, "127.0.0.1", 200),
        (None, "::1", 200),
        (None, "192.0.2.1", 404),
        (["10.0.0.0/8"], "10.1.2.3", 200),
        (["10.0.0.0/8"], "127.0.0.1", 404),
    ],
)
def test_metrics_answer_only_from_allowed_networks(client, settings, allowed, address, status):
    if allowed is not None:
        settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(net) for net in allowed]

    response = client.get(SCRAPE_PATH, REMOTE_ADDR=address)

    assert response.status_code == status


@pytest.mark.django_db
def test_metrics_answer_a_scrape_naming_the_replica_by_its_address(client, settings):
    """
    Prometheus sends the address it scrapes as Host, which ALLOWED_HOSTS does not list; the
    scrape is answered all the same, and the page at that Host is refused as before.
    """
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    settings.ALLOWED_HOSTS = ["visits.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    scrape = client.get(SCRAPE_PATH, HTTP_HOST="10.0.1.7:8080", REMOTE_ADDR="10.0.9.9")
    page = client.get("/", HTTP_HOST="10.0.1.7:8080", REMOTE_ADDR="10.0.9.9", secure=True)
    outsider = client.get(
        SCRAPE_PATH, HTTP_HOST="visits.example.com", REMOTE_ADDR="192.0.2.1", secure=True
    )

    assert scrape.status_code == 200
    assert "no-cache" in scrape["Cache-Control"]
    assert "visits_http_requests_total" in scrape.content.decode()
    assert page.status_code == 400
    assert outsider.status_code == 404
