"""The built book in a real browser: headless Chromium, served from 127.0.0.1 with nothing else reachable.

On every page, at a desktop width (1280 px) and a phone width (400 px): every formula rendered by
MathJax (no raw TeX left in the text, no MathJax error), every image loaded, no request leaving
127.0.0.1, no console error, nothing wider than the window, no inline formula cut at the right
edge; at 1280 px also no output, table or display equation wider than the column (on a phone,
those scroll inside their own box). And one
exercise solution opens on click, and an explorer shows its note where its sliders would be.

Needs Debian's ``chromium`` and ``chromium-driver`` and ``selenium``. Where they are missing the test
skips, saying so, except under ``.ci/run``, which installs them and sets ``NCUTILS_REQUIRE_BROWSER=1``:
there it fails instead.

Reproduce: python -m pytest tests/test_browser.py
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from build_pdf import served

WIDTHS = (1280, 400)
SCRIPT_SECONDS = 60  # how long a script (the wait for MathJax) may take before selenium gives up
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")

# Text nodes outside code, scripts and rendered maths that still hold a TeX delimiter: maths MathJax missed.
RAW_TEX = """
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const skip = "PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, TEXTAREA, .highlight, .cell_input, .cell_output";
const raw = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (parent && !parent.closest(skip) && /\\\\\\(|\\\\\\[|\\$\\$/.test(node.textContent)) raw.push(node.textContent.slice(0, 80));
}
return raw;
"""
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(() => done(true));
else done(false);
"""
BROKEN_IMAGES = "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);"
TOO_WIDE = "return [document.documentElement.scrollWidth, window.innerWidth];"
# Outputs, tables and display equations wider than the column they stand in (they would scroll
# sideways, hiding e.g. the "inside?" column of a conclusion table): none at a desktop width.
CUT_OFF = """
const cut = [];
for (const el of document.querySelectorAll('.cell_output pre, article table, mjx-container[display="true"]')) {
  const own = el.scrollWidth - el.clientWidth;                                           // scrolls inside itself
  const out = el.getBoundingClientRect().width - el.parentElement.clientWidth;           // sticks out of its box
  if (Math.max(own, out) > 1)
    cut.push(el.tagName.toLowerCase() + ' ' + el.scrollWidth + '/' + el.clientWidth + ' px: '
             + el.textContent.trim().slice(0, 50));
}
return cut;
"""
# Inline formulas cannot break across lines (MathJax 3): one wider than its line is cut at the right
# edge, unless it scrolls inside itself (book/_static/custom.css, on narrow screens). At every width.
INLINE_MATHS_CUT = """
const cut = [];
for (const el of document.querySelectorAll('article mjx-container:not([display="true"])')) {
  const box = el.closest('p, li, td, th, dd, div');
  if (box && el.getBoundingClientRect().right > box.getBoundingClientRect().right + 1)
    cut.push(el.textContent.trim().slice(0, 50));
}
return cut;
"""


def _browser_or_skip():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", DRIVER)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        message = (
            f"no browser for the HTML test: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("NCUTILS_REQUIRE_BROWSER"):
            pytest.fail(message + " — NCUTILS_REQUIRE_BROWSER is set: this run must test the HTML in a browser")
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(html):
    """The built HTML served on 127.0.0.1 (a free port), as a reader's local copy would be."""
    with served(html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_script_timeout(SCRIPT_SECONDS)
    yield driver
    driver.quit()


def _pages(html: Path) -> list[str]:
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if "_static" not in p.parts)


def _open(driver, url) -> bool:
    """Open ``url`` and wait until MathJax has typeset it; True when it has. A page whose typesetting
    has not ended after SCRIPT_SECONDS is opened once more (on a 2-core CI machine running other
    tests, Chromium can stall on one page) before it counts as a failure."""
    from selenium.common.exceptions import TimeoutException

    for _ in range(2):
        driver.get(url)
        try:
            driver.execute_async_script(WAIT_FOR_MATHJAX)
            return True
        except TimeoutException:
            continue
    return False


def _find_on(driver, url, selector):
    """The first element matching ``selector`` on ``url``, once the page has been typeset (see
    ``_open``). Fails naming the page, its title and its loading state when there is none: a CI run
    once found no element on a page whose HTML holds three (the page had not loaded, it seems)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    assert _open(driver, url), f"{url}: MathJax had not finished typesetting after {SCRIPT_SECONDS} s, twice"
    try:
        return WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))[0]
    except TimeoutException as error:  # say what the browser was showing instead
        state = driver.execute_script("return [document.readyState, document.title, location.href]")
        raise AssertionError(f"no {selector!r} on {url} after 30 s; the browser shows {state}") from error


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_renders_offline_without_errors(html, server, browser, width):
    browser.set_window_size(width, 900)
    problems = []
    for page in _pages(html):
        browser.get_log("browser"), browser.get_log("performance")  # start each page with empty logs
        if not _open(browser, f"{server}/{page}"):
            problems.append(f"{page}: MathJax had not finished typesetting after {SCRIPT_SECONDS} s, twice")
            continue
        if raw := browser.execute_script(RAW_TEX):
            problems.append(f"{page}: TeX not rendered: {raw[:3]}")
        if errors := browser.execute_script("return document.querySelectorAll('mjx-merror').length"):
            problems.append(f"{page}: {errors} MathJax errors")
        if broken := browser.execute_script(BROKEN_IMAGES):
            problems.append(f"{page}: images not loaded: {broken[:3]}")
        severe = [log["message"] for log in browser.get_log("browser") if log["level"] == "SEVERE"]
        if severe:
            problems.append(f"{page}: console errors: {severe[:3]}")
        remote = [url for url in _requests(browser) if not url.startswith((server, "data:", "blob:", "about:"))]
        if remote:
            problems.append(f"{page}: requests leaving 127.0.0.1: {remote[:3]}")
        scroll, window = browser.execute_script(TOO_WIDE)
        if scroll > window:
            problems.append(f"{page}: {scroll} px wide in a {window} px window")
        if width == WIDTHS[0] and (cut := browser.execute_script(CUT_OFF)):
            problems.append(f"{page}: wider than the column at {width} px: {cut[:3]}")
        if cut := browser.execute_script(INLINE_MATHS_CUT):
            problems.append(f"{page}: {len(cut)} inline formulas cut at the right edge: {cut[:3]}")
    assert not problems, "\n".join(problems)


def test_maths_is_really_rendered(html, server, browser):
    browser.set_window_size(1280, 900)
    browser.get(f"{server}/book/generic_guarantees.html")
    assert browser.execute_async_script(WAIT_FOR_MATHJAX), "MathJax did not start"
    assert browser.execute_script("return document.querySelectorAll('mjx-container').length") > 50


def test_an_exercise_solution_opens_on_click(html, server, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 900)
    solution = _find_on(browser, f"{server}/book/generic_guarantees.html", ".solution.dropdown")
    content = solution.find_elements(By.CSS_SELECTOR, ":scope > :not(.admonition-title)")[0]
    assert "toggle-hidden" in solution.get_attribute("class") and not content.is_displayed()
    solution.find_element(By.CSS_SELECTOR, "button.toggle-button").click()
    assert "toggle-hidden" not in solution.get_attribute("class") and content.is_displayed()


def test_an_explorer_shows_its_note_where_the_sliders_would_be(html, server, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 900)
    _find_on(browser, f"{server}/book/wide_phase2.html", ".cell_output .explorer-note")
    notes = browser.find_elements(By.CSS_SELECTOR, ".cell_output .explorer-note")
    assert len(notes) == 1 and notes[0].is_displayed()
    assert "running Python kernel" in notes[0].text and notes[0].size["height"] > 40
