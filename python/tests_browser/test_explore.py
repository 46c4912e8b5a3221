"""`tweedie explore` in a real headless browser (Chromium from the system packages, driven by Selenium).

The page is loaded from the command line's own server and from a static copy; the test moves the t slider
and the step count, checks the browser logged no error, and checks that every number the page shows, and the
density grid it draws, equal the command line's `tweedie explore --state` JSON for the same settings (to
1e-12, relative). A screenshot of each page is kept in $TWEEDIE_ARTIFACTS (default .build/artifacts).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

CLI = os.environ.get("TWEEDIE_CLI", "tweedie")
ARTIFACTS = Path(os.environ.get("TWEEDIE_ARTIFACTS", Path(__file__).resolve().parents[2] / ".build" / "artifacts"))
# Small runs keep the debug build quick; the page and --state must be given the same settings.
SETTINGS = ["--model", "ring8", "--samples", "400", "--trajectories", "12", "--seed", "3"]
FIGURES = {"value-calls": "model_calls", "value-tv": "total_variation", "value-tv-floor": "total_variation_floor",
           "value-kl": "kl", "value-kl-se": "kl_standard_error"}


def chromium_path(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (make test-explore installs chromium and chromium-driver)")
    return path


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path("chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                     "--allow-file-access-from-files"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromium_path("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server():
    process = subprocess.Popen([CLI, "explore", *SETTINGS, "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        pytest.fail(f"the explorer did not start: {line!r} {process.stderr.read()!r}")
    yield process, line.split("http://")[1].split()[0]
    process.terminate()
    process.wait(timeout=10)


def state(*arguments: str) -> dict:
    result = subprocess.run([CLI, "explore", *SETTINGS, "--state", *arguments], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def settle(driver, timeout: float = 120) -> None:
    """Waits until the page has no request in flight and has drawn its figures."""
    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "0"
        and d.find_element(By.ID, "value-tv").text != "")
    status = driver.find_element(By.ID, "status")
    assert "error" not in (status.get_attribute("class") or ""), status.text


def browser_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def close(shown: str, expected, what: str) -> None:
    if expected is None:
        assert shown == "n/a", f"{what}: the page shows {shown}, the command line null"
        return
    value = float(shown)
    assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-300), f"{what}: page {value}, CLI {expected}"


def check_against_cli(driver, sampler: str) -> None:
    """Every number the page shows, its density grid and mode weights, against --state for its settings."""
    t = driver.find_element(By.ID, "value-t").text
    steps = driver.find_element(By.ID, "steps-label").text.removeprefix("N = ")
    truth = state("--t", t, "--sampler", sampler, "--steps", steps)
    assert float(t) == truth["density"]["t"]
    close(driver.find_element(By.ID, "value-alpha").text, truth["density"]["alpha"], "alpha")
    close(driver.find_element(By.ID, "value-sigma").text, truth["density"]["sigma"], "sigma")
    for element, field in FIGURES.items():
        close(driver.find_element(By.ID, element).text, truth["run"][field], field)
    grid = driver.execute_script("return document.getElementById('density-plot').data[0].z;")
    expected = truth["density"]["log_density"]
    assert len(grid) == len(expected) and len(grid[0]) == len(expected[0])
    worst = max(abs(a - b) / max(1.0, abs(b)) for row, other in zip(grid, expected) for a, b in zip(row, other))
    assert worst <= 1e-12, f"log p_t on the page differs from the CLI's by {worst}"
    weights = driver.execute_script("return document.getElementById('weights-plot').data[1].y;")
    assert weights == pytest.approx(truth["run"]["mode_weights"], rel=1e-12, abs=0)
    curve = driver.execute_script("return document.getElementById('curve-plot').data[0].y;")
    assert curve == pytest.approx([p["total_variation"] for p in truth["curve"]["points"]], rel=1e-12, abs=0)


def test_served_page_shows_the_cli_numbers(browser, server):
    _, address = server
    browser.get(f"http://{address}")
    settle(browser)
    assert browser_errors(browser) == []
    assert "ring8" in browser.find_element(By.ID, "subtitle").text

    # Move t five positions right and the step count two down (8 → 4 steps), as a user would.
    t_before = browser.find_element(By.ID, "value-t").text
    slider = browser.find_element(By.ID, "t-slider")
    slider.click()
    for _ in range(5):
        slider.send_keys(Keys.ARROW_RIGHT)
    steps = browser.find_element(By.ID, "steps-slider")
    steps.click()
    for _ in range(2):
        steps.send_keys(Keys.ARROW_LEFT)
    settle(browser)
    assert browser.find_element(By.ID, "value-t").text != t_before
    assert browser.find_element(By.ID, "steps-label").text == "N = 4"
    check_against_cli(browser, "heun")

    # Another sampler: its run and curve replace heun's.
    Select(browser.find_element(By.ID, "sampler-select")).select_by_value("dpmpp-2m")
    settle(browser)
    WebDriverWait(browser, 60).until(
        lambda d: "dpmpp-2m" in d.execute_script("return document.getElementById('curve-plot').layout.title.text;"))
    check_against_cli(browser, "dpmpp-2m")
    assert browser_errors(browser) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "explore.png"))


def test_slider_answers_quickly(browser, server):
    """Not a benchmark (BENCHMARKS.md has the timings): a t-slider move is answered while the page waits."""
    _, address = server
    browser.get(f"http://{address}")
    settle(browser)
    slider = browser.find_element(By.ID, "t-slider")
    slider.click()
    started = time.monotonic()
    slider.send_keys(Keys.ARROW_LEFT)
    settle(browser, timeout=30)
    assert time.monotonic() - started < 30
    assert browser_errors(browser) == []


def test_static_copy_opens_from_a_file(browser, tmp_path):
    folder = tmp_path / "page"
    positions = ["--slider-positions", "5"]
    result = subprocess.run([CLI, "explore", *SETTINGS, *positions, "--static", str(folder)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert (folder / "index.html").is_file() and (folder / "LICENSE-plotly.js.txt").is_file()
    browser.get((folder / "index.html").as_uri())
    settle(browser)
    assert browser_errors(browser) == []
    assert "static copy" in browser.find_element(By.ID, "subtitle").text
    slider = browser.find_element(By.ID, "t-slider")
    slider.click()
    slider.send_keys(Keys.ARROW_RIGHT)
    settle(browser)
    t = browser.find_element(By.ID, "value-t").text
    truth = state(*positions, "--t", t, "--sampler", "heun", "--steps", "8")
    assert float(t) == truth["density"]["t"]
    for element, field in FIGURES.items():
        close(browser.find_element(By.ID, element).text, truth["run"][field], field)
    assert browser_errors(browser) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "explore-static.png"))

    # Nothing is overwritten: a second copy into the same folder fails with one line.
    again = subprocess.run([CLI, "explore", *SETTINGS, "--static", str(folder)], capture_output=True, text=True)
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1 and "exists" in again.stderr
