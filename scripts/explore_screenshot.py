"""The README's picture of `tweedie explore` (docs/explore.png), made in headless Chromium.

Usage (from the repository, after `make test-explore` has made .build/browser-venv):
    .build/browser-venv/bin/python scripts/explore_screenshot.py --tweedie .build/release/tweedie

Serves ring8 on a free port, sets t to slider position 40 of 100 and the sampler to heun with 6 steps,
waits for the page to settle and saves a 1400 × 1250 screenshot.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def settle(driver) -> None:
    WebDriverWait(driver, 120).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "0"
        and d.find_element(By.ID, "value-tv").text != "")


def set_range(driver, element_id: str, position: int) -> None:
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));", element_id, position)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweedie", required=True)
    parser.add_argument("--output", default="docs/explore.png")
    arguments = parser.parse_args()
    server = subprocess.Popen([arguments.tweedie, "explore", "--model", "ring8", "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1250"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        address = server.stdout.readline().split("http://")[1].split()[0]
        driver.get(f"http://{address}")
        settle(driver)
        Select(driver.find_element(By.ID, "sampler-select")).select_by_value("heun")
        settle(driver)
        set_range(driver, "t-slider", 40)
        settle(driver)
        set_range(driver, "steps-slider", 4)  # the ladder 1, 2, 3, 4, 6, …: position 4 is 6 steps
        settle(driver)
        assert driver.find_element(By.ID, "steps-label").text == "N = 6"
        driver.save_screenshot(arguments.output)
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
