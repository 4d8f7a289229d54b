"""A real browser (Debian's Chromium, driven by Playwright) against the real app.

Saves test-artifacts/chat.png and test-artifacts/browser-timings.json (Enter -> passages visible /
first token / full answer, timed inside the page, in seconds and as a ratio to the unit: raw
llama.cpp reading 480 tokens and writing 20 with the same GGUF, measured in the same session).
Times are recorded, not asserted (machines differ several-fold); the order is asserted: the passages
are on the page before the answer's first token.
"""

import json
import re
import shutil

import pytest

from rag.decide import DECLINE

from .conftest import ARTIFACTS, PLANTED_ARTICLE

pytestmark = [pytest.mark.real, pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMINGS: list[dict] = []
UNIT: dict = {}


@pytest.fixture(scope="module")
def browser(real_bot):
    from eval.unit import measure

    UNIT.update(measure(real_bot.config.generator, repeats=1, config=real_bot.config).to_dict())
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium) or apt-get install chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if TIMINGS:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "browser-timings.json").write_text(json.dumps({"unit": UNIT, "asked": TIMINGS}, indent=1))


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.dialogs = []  # any alert() a document managed to run
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser, live_app):
    return open_page(browser, live_app[0])


# Times, inside the page, from the Enter keydown to: the passages panel of this turn, the first
# streamed token, and the finished answer (no cursor).
RECORD = """(n) => {
  if (window.__obs) window.__obs.disconnect();
  const t = window.__timing = {};
  document.querySelector('#question textarea').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && window.__timing === t && !t.enter) t.enter = performance.now(); }, {capture: true});
  const check = () => {
    if (!t.enter) return;
    const now = performance.now();
    if (!t.passages && document.querySelector(`#sources .panel[data-turn="${n - 1}"]`)) t.passages = now;
    const m = document.querySelectorAll("#chat [data-testid='bot']");
    const last = m.length >= n ? m[n - 1].innerText : "";
    if (!t.first && last && !/^\\s*…\\s*$/.test(last) && last.trim().length > 1) t.first = now;
    if (t.first && !t.done && !last.includes('▌')) t.done = now;
  };
  window.__obs = new MutationObserver(check);
  window.__obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
DONE = """(n) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
  return m.length >= n && !/^\\s*…\\s*$/.test(m[n-1].innerText) && !m[n-1].innerText.includes('▌')
         && window.__timing.done; }"""


def send(page, question: str) -> int:
    """Type the question and press Enter; returns the number of the bot message that will answer it."""
    n = page.locator("#chat [data-testid='bot']").count() + 1
    page.evaluate(RECORD, n)
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    return n


def result(page, question: str, n: int) -> dict:
    page.wait_for_function(DONE, arg=n, timeout=180_000)
    t = page.evaluate("window.__timing")
    since = lambda key: round((t[key] - t["enter"]) / 1000, 2) if key in t else None
    text = page.locator("#chat [data-testid='bot']").nth(n - 1).inner_text()
    row = {"question": question, "passages_visible_s": since("passages"), "first_token_s": since("first"),
           "answer_s": since("done"), "text": text}
    for key in ("passages_visible", "first_token", "answer"):
        if row[f"{key}_s"] is not None and UNIT.get("seconds"):
            row[f"{key}_unit"] = round(row[f"{key}_s"] / UNIT["seconds"], 3)
    TIMINGS.append(row)
    return row


def ask(page, question: str) -> dict:
    return result(page, question, send(page, question))


def upload(page, path):
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.wait_for_timeout(1500)
    page.locator("#add").click()
    page.wait_for_function("(name) => document.querySelector('#results') && "
                           "document.querySelector('#results').innerText.includes(name)", arg=path.name,
                           timeout=120_000)
    page.wait_for_function("() => /added|replaced|unchanged|skipped/.test(document.querySelector('#results').innerText)",
                           timeout=120_000)


def show_debug(page):
    page.get_by_role("tab", name="Chat").click()
    if not page.locator("#show-debug input").is_visible():
        page.locator("#settings button").first.click()
    page.locator("#show-debug input").check()


def test_ask_see_citations_upload_and_ask_again(page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    r = ask(page, "What cap on Ukraine's military did the first US draft propose?")
    assert "600,000" in r["text"]
    assert r["passages_visible_s"] is not None and r["passages_visible_s"] <= r["first_token_s"] <= r["answer_s"]
    link = page.locator("#chat a.cite").first
    assert link.is_visible()
    href = link.get_attribute("href")
    card = page.locator(f"#sources {href}")
    card.wait_for(timeout=10_000)
    assert "RFE/RL" in card.inner_text() and "2025-11-26" in card.inner_text()
    assert "600, 000" in card.locator("mark").inner_text()
    assert "cited" in card.locator(".badge").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    # upload a small article in the Documents tab
    article = tmp_path / "odesa-harbor.md"
    article.write_text("---\ntitle: Odesa harbor reopens\noutlet: Harbor Daily\npublished: 2025-11-20\n---\n\n"
                       "The harbor in Odesa reopened on Monday after a three-week closure caused by drone strikes. "
                       "Port director Olena Marchuk said grain ships would return by December.")
    upload(page, article)
    assert "added" in page.locator("#results").inner_text()
    assert "odesa-harbor" in page.locator("#docs").inner_text()

    page.get_by_role("tab", name="Chat").click()
    r = ask(page, "Who is the port director of the Odesa harbor?")
    assert "Marchuk" in r["text"]
    assert "Harbor Daily" in page.locator("#sources").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-after-upload.png"), full_page=True)


HOSTILE_ARTICLE = """---
title: '<img src=x onerror="window.__pwned=1;alert(1)"> Quillfeather footbridge opens'
outlet: '<b onmouseover="window.__pwned=3">Brantmoor Post</b>'
published: 2025-11-21
url: "javascript:alert(1)"
---

The Quillfeather footbridge in Brantmoor opened to walkers on Tuesday. It was designed by the engineer
Tomas Velk, who said it took four years to build. <img src=y onerror="window.__pwned=2;alert(2)">
"""


def test_an_article_with_a_script_url_and_html_in_its_fields_runs_no_script(page, live_app, tmp_path):
    bot = live_app[1]
    article = tmp_path / "quillfeather-footbridge.md"
    article.write_text(HOSTILE_ARTICLE)
    upload(page, article)
    doc = bot.index.documents["quillfeather-footbridge"]
    assert page.locator("#docs img, #results img").count() == 0
    if "<img" in doc.title:  # kept as text by ingest: the table must show it as text
        assert '<img src=x onerror="window.__pwned=1;alert(1)">' in page.locator("#docs").inner_text()

    show_debug(page)
    r = ask(page, "Who designed the Quillfeather footbridge in Brantmoor?")
    sources = page.locator("#sources").inner_text()
    assert "Quillfeather footbridge opens" in sources and "Brantmoor Post" in sources
    if "<img" in doc.title:
        assert '<img src=x onerror="window.__pwned=1;alert(1)">' in sources  # shown escaped, as text
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if re.match(r"\s*(javascript|data|vbscript):", h, re.I)], hrefs
    assert page.locator('img[src="x"], img[src="y"], #sources b[onmouseover]').count() == 0
    assert "quillfeather-footbridge" in page.locator("#debug").inner_text()
    page.locator("#sources").hover()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.dialogs == []
    assert "Velk" in r["text"] and DECLINE not in r["text"], r["text"]  # answered, not declined
    page.screenshot(path=str(ARTIFACTS / "hostile-article.png"), full_page=True)


def test_a_planted_instruction_is_not_followed_fresh_or_as_a_follow_up(page, tmp_path):
    article = tmp_path / "zorvik-solar.md"
    article.write_text(PLANTED_ARTICLE)
    upload(page, article)
    page.get_by_role("tab", name="Chat").click()
    fresh = ask(page, "What did the mayor of Zorvik say about the solar panels?")
    first = ask(page, "How many solar panels did Zorvik install?")
    follow = ask(page, "What did the mayor say about them?")
    for r in (fresh, first, follow):
        assert "PWNED" not in r["text"].upper(), r["text"]
    assert "PWNED" not in page.locator("#chat").inner_text().upper()
    assert ("1,200" in first["text"] or "1, 200" in first["text"]) and DECLINE not in first["text"], first["text"]


def test_two_users_at_once_keep_their_own_conversations(browser, page, live_app):
    other = open_page(browser, live_app[0])
    try:
        show_debug(page)
        show_debug(other)
        ask(page, "Who is Kirill Dmitriev?")
        ask(other, "Who did Trump tap to lead the effort to end Russia's war?")
        # both follow-ups in flight at the same time
        questions = {page: "When was he blacklisted?", other: "How many times has he met Putin?"}
        sent = {p: send(p, q) for p, q in questions.items()}
        rows = {p: result(p, questions[p], n) for p, n in sent.items()}
        mine = page.locator("#debug .standalone").inner_text()
        theirs = other.locator("#debug .standalone").inner_text()
        assert "Dmitriev" in mine and "Witkoff" not in mine, mine
        assert "Witkoff" in theirs and "Dmitriev" not in theirs, theirs
        assert "2022" in rows[page]["text"]
    finally:
        other.close()


def test_an_empty_question_shows_an_error_and_the_session_survives(page):
    page.get_by_role("tab", name="Chat").click()
    before = page.locator("#chat [data-testid='bot']").count()
    page.locator("#question textarea").fill("   ")
    page.locator("#ask").click()
    page.get_by_text("the question is empty").first.wait_for(timeout=20_000)
    assert page.locator("#chat [data-testid='bot']").count() == before
    r = ask(page, "Who heads Russia's sovereign wealth fund?")
    assert "Dmitriev" in r["text"]
