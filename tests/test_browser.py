"""A real browser (Debian's Chromium, driven by Playwright) against the real app.

Saves test-artifacts/chat.png and test-artifacts/browser-timings.json (Enter -> first token / full answer).
"""

import json
import shutil
import time

import pytest

from .conftest import ARTIFACTS

pytestmark = [pytest.mark.real, pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(live_app):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium) or apt-get install chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(live_app[0])
        page.wait_for_selector("#question textarea", timeout=60_000)
        yield page
        browser.close()


def ask(page, question: str, turn: int) -> dict:
    box = page.locator("#question textarea")
    box.fill(question)
    bots = page.locator("#chat .message-row.bot-row, #chat [data-testid='bot']")
    start = time.perf_counter()
    box.press("Enter")
    # the streamed placeholder "…" is replaced by text as soon as the first token arrives
    page.wait_for_function(
        """(n) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
                     return m.length >= n && !/^\\s*…\\s*$/.test(m[n-1].innerText) && m[n-1].innerText.trim().length > 1; }""",
        arg=turn, timeout=120_000)
    first = time.perf_counter() - start
    page.wait_for_function(
        """(n) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
                     return m.length >= n && !m[n-1].innerText.includes('▌'); }""", arg=turn, timeout=120_000)
    total = time.perf_counter() - start
    text = page.locator("#chat [data-testid='bot']").nth(turn - 1).inner_text()
    return {"question": question, "first_token_s": round(first, 2), "answer_s": round(total, 2), "text": text}


def test_ask_see_citations_upload_and_ask_again(page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    timings = []

    r = ask(page, "What cap on Ukraine's military did the first US draft propose?", 1)
    timings.append(r)
    assert "600,000" in r["text"]
    link = page.locator("#chat a.cite").first
    assert link.is_visible()
    href = link.get_attribute("href")
    card = page.locator(f"#sources {href}")
    card.wait_for(timeout=10_000)
    assert "RFE/RL" in card.inner_text() and "2025-11-26" in card.inner_text()
    assert "600, 000" in card.locator("mark").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    # upload a small article in the Documents tab
    article = tmp_path / "odesa-harbor.md"
    article.write_text("---\ntitle: Odesa harbor reopens\noutlet: Harbor Daily\npublished: 2025-11-20\n---\n\n"
                       "The harbor in Odesa reopened on Monday after a three-week closure caused by drone strikes. "
                       "Port director Olena Marchuk said grain ships would return by December.")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(article))
    page.wait_for_timeout(1500)
    page.locator("#add").click()
    page.wait_for_function("() => document.querySelector('#results') && "
                           "document.querySelector('#results').innerText.includes('added')", timeout=120_000)
    assert "odesa-harbor" in page.locator("#docs").inner_text()

    page.get_by_role("tab", name="Chat").click()
    r = ask(page, "Who is the port director of the Odesa harbor?", 2)
    timings.append(r)
    assert "Marchuk" in r["text"]
    assert "Harbor Daily" in page.locator("#sources").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-after-upload.png"), full_page=True)
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(timings, indent=1))


def test_an_empty_question_shows_an_error_and_the_session_survives(page):
    page.get_by_role("tab", name="Chat").click()
    before = page.locator("#chat [data-testid='bot']").count()
    page.locator("#question textarea").fill("   ")
    page.locator("#ask").click()
    page.get_by_text("the question is empty").first.wait_for(timeout=20_000)
    assert page.locator("#chat [data-testid='bot']").count() == before
    r = ask(page, "Who heads Russia's sovereign wealth fund?", before + 1)
    assert "Dmitriev" in r["text"]
