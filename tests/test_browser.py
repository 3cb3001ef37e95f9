"""
The page, the stats and the admin in a real headless Chromium (Debian's
chromium and chromium-driver), served by real gunicorn. Screenshots go to
VISITS_SCREENSHOTS (docs/screenshots with `make screenshots`), or a
temporary folder.
"""

import datetime
import os
import shutil
import zoneinfo
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.servers import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = PROJECT_ROOT / "tests/browser/node_modules/axe-core/axe.min.js"
DESKTOP = (1280, 900)
PHONE = (390, 844)
FROZEN_CLOCK = PROJECT_ROOT / "tests/support/frozen_clock"
NOW = datetime.datetime(2026, 11, 27, 21, 30, tzinfo=datetime.UTC)  # 18:30 in São Paulo
# Page views in each local hour of a weekday; a weekend has half as many.
WEEKDAY = [1, 1, 0, 0, 0, 1, 2, 4, 7, 9, 10, 11, 12, 11, 12, 13, 12, 10, 9, 8, 6, 4, 3, 2]

if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the browser tests: install {CHROMIUM} and {CHROMEDRIVER}.")
    pytest.skip(
        f"NO BROWSER TESTS: {CHROMIUM} or {CHROMEDRIVER} is missing; "
        "apt-get install chromium chromium-driver to run them.",
        allow_module_level=True,
    )


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("VISITS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_browser(tmp_path):
    """Starts headless Chromium asking for the given languages; quits it afterwards."""
    drivers = []

    def start(languages: str = "pt-BR,pt") -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",  # as root in CI
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # This machine's network is closed: no calls home.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / f'chromium-{len(drivers)}'}",
            f"--lang={languages.split(',')[0]}",
        ):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": languages})
        # The console, where Chromium reports what the Content-Security-Policy blocked.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_window_size(*DESKTOP)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


@pytest.fixture
def superuser(transactional_db, monkeypatch) -> None:
    """The admin's superuser, made by ensure_superuser as the container's start does."""
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-test-passphrase")
    call_command("ensure_superuser")


@pytest.fixture
def month_of_traffic(transactional_db) -> int:
    """A month of page views before NOW, a working week's shape; returns how many."""
    zone = zoneinfo.ZoneInfo("America/Sao_Paulo")
    current_hour = NOW.replace(minute=0)
    hours = [current_hour - datetime.timedelta(hours=n) for n in range(30 * 24)]
    counts = []
    for hour in hours:
        local = hour.astimezone(zone)
        counts.append(WEEKDAY[local.hour] * (4 if local.weekday() < 5 else 2) + local.day % 3)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) "
            "SELECT hour + n * interval '1 second', 'Mozilla/5.0' "
            "FROM unnest(%s::timestamptz[], %s::int[]) AS traffic (hour, count), "
            "generate_series(1, count) AS n",
            [hours, counts],
        )
    return sum(counts)


def text(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def show(driver, size: tuple[int, int]) -> None:
    """The page in a viewport of SIZE as a phone or a desktop has it, and as tall as its content."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    content = driver.execute_script("return document.documentElement.scrollHeight")
    metrics["height"] = max(height, content)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def shoot(driver, folder: Path, name: str, size: tuple[int, int]) -> Path:
    """A screenshot of the whole page at SIZE's width, saved as FOLDER/NAME.png."""
    show(driver, size)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


# Each text of each chart whose box leaves its SVG or overlaps another text's.
MISPLACED_CHART_TEXTS = """
const misplaced = [];
for (const svg of document.querySelectorAll(".chart svg")) {
  const frame = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")];
  const boxes = texts.map((text) => [text, text.getBoundingClientRect()]);
  for (const [text, box] of boxes) {
    if (box.left < frame.left || box.right > frame.right
        || box.top < frame.top || box.bottom > frame.bottom) {
      misplaced.push(`${text.textContent} leaves the chart`);
    }
  }
  boxes.forEach(([text, box], index) => {
    for (const [other, next] of boxes.slice(index + 1)) {
      if (box.left < next.right && next.left < box.right
          && box.top < next.bottom && next.top < box.bottom) {
        misplaced.push(`${text.textContent} overlaps ${other.textContent}`);
      }
    }
  });
}
return misplaced;
"""


def test_browser_page_numbers_grow_by_one_on_reload(gunicorn, open_browser, screenshots):
    server = gunicorn()
    browser = open_browser()

    browser.get(f"http://127.0.0.1:{server.port}/")
    first = (text(browser, "[data-testid=accesses]"), text(browser, "[data-testid=visits]"))
    browser.refresh()
    second = (text(browser, "[data-testid=accesses]"), text(browser, "[data-testid=visits]"))
    desktop = shoot(browser, screenshots, "page-pt-desktop", DESKTOP)
    phone = shoot(browser, screenshots, "page-pt-phone", PHONE)

    assert first == ("1", "1")
    assert second == ("2", "2")
    assert text(browser, ".sentence") == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "pt-br"
    assert desktop.stat().st_size > 0
    assert phone.stat().st_size > 0


def test_browser_in_english_sees_english(gunicorn, open_browser, screenshots):
    server = gunicorn()
    browser = open_browser("en-US,en")

    browser.get(f"http://127.0.0.1:{server.port}/")
    shoot(browser, screenshots, "page-en-desktop", DESKTOP)
    shoot(browser, screenshots, "page-en-phone", PHONE)

    assert text(browser, "h1") == "Every page view, counted twice"
    assert text(browser, ".sentence") == "PostgreSQL database has 1 record. Redis counts 1 visit."
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"


def test_browser_stats_draws_both_charts_with_every_label_inside(
    gunicorn, open_browser, screenshots, month_of_traffic
):
    server = gunicorn(PYTHONPATH=str(FROZEN_CLOCK), VISITS_FROZEN_NOW=NOW.isoformat())
    browser = open_browser()
    browser.get(f"http://127.0.0.1:{server.port}/")

    browser.find_element(By.LINK_TEXT, "Tráfego").click()
    bars = browser.find_elements(By.CSS_SELECTOR, "svg rect.bar")
    ticks = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "text.tick")]
    show(browser, DESKTOP)
    misplaced_on_desktop = browser.execute_script(MISPLACED_CHART_TEXTS)
    show(browser, PHONE)
    misplaced_on_phone = browser.execute_script(MISPLACED_CHART_TEXTS)
    shoot(browser, screenshots, "stats-pt-desktop", DESKTOP)
    shoot(browser, screenshots, "stats-pt-phone", PHONE)

    assert browser.current_url == f"http://127.0.0.1:{server.port}/stats"
    assert len(bars) == 24 + 30
    assert ticks == ["0", "20", "40", "60", "0", "200", "400", "600", "800"]
    assert misplaced_on_desktop == []
    assert misplaced_on_phone == []
    # The month's, and the access this browser's first page view stored.
    assert text(browser, ".sentence") == (
        f"{month_of_traffic + 1} visualizações de página registradas ao todo."
    )


def test_browser_admin_login_search_filter_and_open_a_record(
    gunicorn, open_browser, screenshots, superuser
):
    server = gunicorn()
    base = f"http://127.0.0.1:{server.port}"
    browser = open_browser("en-US,en")
    browser.get(f"{base}/")
    browser.get(f"{base}/")

    browser.get(f"{base}/admin/visits/access/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-passphrase")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The click returns before the next page has loaded.
    WebDriverWait(browser, 10).until(lambda page: page.find_elements(By.ID, "result_list"))
    listed = len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
    shoot(browser, screenshots, "admin-list-desktop", DESKTOP)
    shoot(browser, screenshots, "admin-list-phone", PHONE)
    browser.find_element(By.ID, "searchbar").send_keys("127.0.0.1\n")
    found = len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
    browser.get(f"{base}/admin/visits/access/")
    browser.find_element(By.LINK_TEXT, "Today").click()
    today = len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()

    assert text(browser, "#site-name") == "Visits administration"
    assert (listed, found, today) == (2, 2, 2)
    assert "HeadlessChrome" in text(browser, ".field-user_agent")
    assert "/admin/visits/access/" in browser.current_url
    assert "/change/" in browser.current_url


def test_browser_page_with_redis_stopped_shows_the_degraded_state(
    gunicorn, open_browser, private_redis, screenshots
):
    server = gunicorn(CACHE_PORT=str(private_redis.port))
    browser = open_browser()
    private_redis.stop()

    browser.get(f"http://127.0.0.1:{server.port}/")
    shoot(browser, screenshots, "page-degraded-desktop", DESKTOP)
    shoot(browser, screenshots, "page-degraded-phone", PHONE)

    assert text(browser, "[data-testid=accesses]") == "1"
    assert text(browser, "[data-testid=visits]") == "—"
    assert text(browser, ".number.down [role=status]") == (
        "O Redis está indisponível no momento: esta visualização foi guardada, mas não contada."
    )


@pytest.mark.parametrize("path", ["/", "/stats", "/nothing-here", "/admin/login/"])
def test_browser_accessibility_has_no_serious_violations(gunicorn, open_browser, path):
    server = gunicorn()
    browser = open_browser()
    browser.get(f"http://127.0.0.1:{server.port}{path}")

    browser.execute_script(AXE.read_text())
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(done, (error) => done({error: String(error)}));"
    )

    assert "error" not in result, result
    serious = [
        (violation["id"], violation["impact"], violation["help"])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


def test_browser_every_page_lives_within_its_content_security_policy(
    gunicorn, open_browser, superuser
):
    """No page, the admin's included, has anything refused by its Content-Security-Policy."""
    server = gunicorn()
    base = f"http://127.0.0.1:{server.port}"
    browser = open_browser("en-US,en")
    visited = {}

    for path in ["/", "/stats", "/nothing-here", "/admin/login/"]:
        browser.get(f"{base}{path}")
        visited[path] = browser.get_log("browser")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-passphrase")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    for path in ["/admin/", "/admin/visits/access/", "/admin/visits/access/?q=127.0.0.1"]:
        browser.get(f"{base}{path}")
        visited[path] = browser.get_log("browser")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    visited["a record"] = browser.get_log("browser")
    header = server.get("/").headers["content-security-policy"]

    refused = {
        path: [entry["message"] for entry in log if "Content Security Policy" in entry["message"]]
        for path, log in visited.items()
    }
    assert refused == {path: [] for path in visited}
    assert sorted(header.split("; ")) == [
        "base-uri 'none'",
        "default-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "img-src 'self' data:",
        "object-src 'none'",
    ]
