"""The page of ``textcnn serve`` in a real browser (headless Chromium from Debian's package, driven by
Selenium): type a sentence, submit, and the label, the bars and the highlighted n-grams shown are
what ``/predict`` and ``/explain`` answer. The screenshot is kept in ``test-artifacts/page.png``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium (pip install selenium)")

from test_serve_cli import _ENV, _free_port, _wait_ready  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="no chromium/chromedriver: apt-get install chromium chromium-driver"
)


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900",
                     "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-sync"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def server(tiny_bundle):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "textcnn", "serve", str(tiny_bundle), "--port", str(port)],
        env=_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_ready(process, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_page_shows_what_predict_and_explain_answer(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    text = "The film was GREAT"
    browser.get(server + "/")
    browser.find_element(By.ID, "text").send_keys(text)
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 20).until(shown.visibility_of_element_located((By.ID, "result")))

    predicted = httpx.post(f"{server}/predict", json={"texts": [text], "top_k": 2}).json()["predictions"][0]
    explained = httpx.post(f"{server}/explain", json={"texts": [text]}).json()[0]
    first = explained["explained"][0]
    assert browser.find_element(By.ID, "label").text == predicted["label"]
    bars = {bar.get_attribute("data-label"): float(bar.get_attribute("data-probability")) for bar in browser.find_elements(By.CSS_SELECTOR, "#bars .bar")}
    assert bars == pytest.approx({item["label"]: item["probability"] for item in predicted["top_k"]})
    spans = browser.find_elements(By.CSS_SELECTOR, "#highlighted .tok")
    per_word: dict[str, float] = {}
    for (start, end), score in zip(explained["token_chars"], first["token_scores"]):
        per_word[text[start:end]] = per_word.get(text[start:end], 0.0) + score
    assert {span.text: float(span.get_attribute("data-score")) for span in spans} == pytest.approx(per_word)
    rows = browser.find_elements(By.CSS_SELECTOR, "#contributions .item")
    assert [row.find_elements(By.TAG_NAME, "td")[2].text for row in rows] == [item["ngram"] for item in first["items"][:10]]
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "page.png"))


def test_the_metrics_view_shows_the_bundles_report(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    browser.find_element(By.ID, "tab-metrics").click()
    WebDriverWait(browser, 20).until(lambda driver: driver.find_element(By.ID, "report").get_attribute("data-loaded") == "1")

    report = browser.find_element(By.ID, "report").text
    assert "negative" in report and "positive" in report
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "metrics.png"))
