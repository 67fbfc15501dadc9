"""The web console in headless Chromium (Debian's, driven by Playwright), per role: a
customer sees progress lines, the answer stream in and each source once; an analyst reads
the London -> Paris case (both payments, the map, the speed against the limit, the model's
note apart, the card's recent payments), confirms the block, and sees it decided; an admin
sees the operations page follow the traffic. Every control has a name and every text a
contrast of WCAG 2 AA; every page load stays on 127.0.0.1; each page's screenshot is
written under ``.test-output/console``."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, ViewportSize

from agents.service import AgentService
from ingestion.producer import EventProducer
from tests.agents.test_fraud_e2e import london_paris
from tests.api.conftest import Api
from tests.conftest import wait_for
from vigil.runtime.replicas import Replica
from vigil.simulate import SimPlan, plan_events, produce

ANSWER = " ".join(f"token{i}" for i in range(40))
CITING = ANSWER + " [1] [2] [3]"
SCREENS = Path(__file__).resolve().parents[2] / ".test-output" / "console"

pytestmark = pytest.mark.slow


def sign_in(browser: Browser, api: Api, key: str, hosts: list[str],
            viewport: ViewportSize | None = None) -> Any:  # fmt: skip
    """A page signed in with ``key`` (a context each: its own session cookie); every
    request it makes has its host appended to ``hosts``."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    context.on("request", lambda r: hosts.append(f"{urlparse(r.url).scheme}://"
                                                 f"{urlparse(r.url).hostname}"))  # fmt: skip
    page = context.new_page()
    page.goto(f"{api.url}/console")
    page.fill("#credential", key)
    page.click("#signin")
    return page


def unnamed(page: Any) -> list[str]:
    """The visible controls with no accessible name (no label, aria-label or text)."""
    return list(
        page.evaluate("""() => [...document.querySelectorAll(
            'input, button, select, textarea, summary')]
        .filter((e) => e.offsetParent !== null)
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                       && !e.textContent.trim())
        .map((e) => e.outerHTML.slice(0, 80))""")
    )


#: WCAG 2's contrast of each visible text against what is painted behind it (backgrounds
#: composited up the tree over white): 4.5:1, 3:1 for large text; disabled controls and
#: SVG are exempt
_CONTRAST = """() => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number).concat([1]).slice(0, 4);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  const behind = (e) => {
    const layers = [];
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const bg = rgba(getComputedStyle(n).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    return layers.reverse().reduce((acc, l) => over(l, acc), [255, 255, 255]);
  };
  const bad = [];
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest("svg") || e.disabled || !e.getClientRects().length) continue;
    const text = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data)
      .join("").trim();
    if (!text) continue;
    const style = getComputedStyle(e);
    if (style.visibility === "hidden" || style.opacity === "0") continue;
    const fg = rgba(style.color), bg = behind(e);
    const [a, b] = [lum(over(fg, bg)), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const px = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(`${ratio.toFixed(2)} < ${need}: ${e.tagName} ${text.slice(0, 40)}`);
  }
  return bad;
}"""


def low_contrast(page: Any) -> list[str]:
    """The visible texts whose contrast is under WCAG 2 AA's (``_CONTRAST``)."""
    return list(page.evaluate(_CONTRAST))


def shot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


@pytest.mark.script(*[CITING] * 3)
def test_a_customer_sees_progress_an_answer_and_each_source_once(
    api: Api, browser: Browser
) -> None:
    api.model.token_delay_s = 0.04
    hosts: list[str] = []
    customer = sign_in(browser, api, "key-john", hosts)
    customer.wait_for_function("document.querySelector('#who').textContent.includes('cust-john')")
    assert customer.input_value("#credential") == ""  # the key is not left in the page
    assert customer.locator("#signin-form").is_hidden()
    assert customer.locator("#approvals").is_hidden()  # a customer has no inbox
    customer.evaluate("""() => {
        window.lengths = [];
        new MutationObserver(() => {
            const a = document.querySelector('.msg.assistant .answer');
            if (a) window.lengths.push(a.textContent.length);
        }).observe(document.querySelector('#messages'),
                   {subtree: true, childList: true, characterData: true});
    }""")
    customer.fill("#chat-input", "Do you offer 0% financing?")
    customer.click("#chat-send")
    customer.wait_for_selector(".msg.assistant[data-done='1']", timeout=30_000)
    answer = customer.text_content(".msg.assistant .answer") or ""
    assert answer.split() == CITING.split()
    lengths = customer.evaluate("window.lengths")
    partial = sorted({n for n in lengths if 0 < n < len(CITING)})
    assert len(partial) > 10, f"the answer arrived in {len(partial)} partial steps"
    steps = customer.locator(".step").all_text_contents()
    assert steps == ["Looking up your account…", "Searching our policies and offers…"], steps
    page_text = customer.text_content("body") or ""
    assert "customer_lookup" not in page_text
    assert "search_knowledge" not in page_text
    titles = customer.locator(".source summary").all_text_contents()
    assert titles
    assert len(titles) == len(set(titles)), titles  # each document once
    customer.click(".source summary")
    passage = customer.locator(".source blockquote").first
    assert passage.is_visible()
    assert len(passage.text_content() or "") > 20
    assert unnamed(customer) == []
    assert low_contrast(customer) == []
    shot(customer, "customer-chat")
    customer.click("#signout")
    customer.wait_for_selector("#signin-form", state="visible")
    assert customer.locator("#chat").is_hidden()
    assert set(hosts) == {"http://127.0.0.1"}, set(hosts)


def test_an_analyst_reads_the_case_confirms_and_the_block_follows(
    api: Api, fraud: AgentService, browser: Browser
) -> None:
    hosts: list[str] = []
    analyst = sign_in(browser, api, "key-ana", hosts)
    analyst.wait_for_selector("#feed-state:text('live')", timeout=10_000)
    assert analyst.locator("#chat").is_hidden()  # staff have no customer chat
    atm, coffee = london_paris()
    with EventProducer(api.settings) as producer:
        producer.publish([atm, coffee])
    case = analyst.wait_for_selector(".card-group .approval", timeout=60_000)
    assert case is not None
    text = case.text_content() or ""
    assert f"Block payment {coffee.transaction_id}" in text
    rows = analyst.locator(".approval table.payments:not(.recent) tbody tr")
    assert rows.count() == 2  # the ATM in London, then the coffee in Paris
    assert atm.transaction_id in rows.nth(0).text_content()
    assert atm.merchant in rows.nth(0).text_content()
    assert "London" in rows.nth(0).text_content()
    assert "Paris" in rows.nth(1).text_content()
    # the card's recent payments, newest first, this one marked
    history = analyst.locator(".approval table.recent tbody tr")
    assert history.count() == 2
    assert coffee.transaction_id in history.nth(0).text_content()
    assert history.nth(0).get_attribute("aria-current") == "true"
    assert atm.transaction_id in history.nth(1).text_content()
    assert analyst.locator(".approval svg.map circle.point").count() == 2
    # the coasts around them, from the outline installed with Vigil (Britain, France, ...)
    analyst.wait_for_selector(".approval svg.map .land polygon", timeout=20_000)
    assert analyst.locator(".approval svg.map .land polygon").count() >= 2
    travel = analyst.text_content(".approval .travel") or ""
    assert re.fullmatch(r"346 km in 40 s: [\d,]+ km/h, limit 1,000 km/h", travel), travel
    reasons = analyst.locator(".approval .evidence li").all_text_contents()
    assert reasons
    assert len(reasons) == len(set(reasons))
    assert any("impossible travel" in r for r in reasons)
    note = analyst.text_content(".approval .model-note") or ""
    assert note.startswith("Model's note — advice, not a decision"), note
    assert "countdown" in (analyst.get_attribute(".approval .countdown", "class") or "")
    analyst.wait_for_selector(".approval dl.profile", timeout=10_000)
    shot(analyst, "analyst-case")
    assert low_contrast(analyst) == []
    phone = sign_in(browser, api, "key-ana", hosts, viewport={"width": 390, "height": 844})
    phone.wait_for_selector(".approval table.payments", timeout=10_000)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    shot(phone, "analyst-phone")
    assert unnamed(analyst) == []
    # by keyboard: Enter on "Approve block" asks; Escape cancels, and nothing is sent
    analyst.focus(".approval .approve")
    analyst.keyboard.press("Enter")
    analyst.wait_for_selector("#confirm[open]")
    analyst.keyboard.press("Escape")
    analyst.wait_for_selector("#confirm:not([open])", state="attached")
    assert (analyst.text_content(".approval .state") or "") == "pending"
    analyst.click(".approval .reject")  # a rejection needs a reason: nothing is sent
    assert "say why" in (analyst.text_content(".approval .state") or "")
    analyst.click(".approval .approve")
    analyst.wait_for_selector("#confirm[open]")
    shot(analyst, "analyst-confirm")
    analyst.click("#confirm-ok")
    analyst.wait_for_selector("#count-decided:text('1')", timeout=60_000)
    analyst.click("#tab-decided")
    state = analyst.text_content("#decided .approval.resolved .state") or ""
    assert state.startswith("approved by analyst.ana"), state
    shot(analyst, "analyst-decided")
    # decided = claimed; the agent's resumed graph applies the block right after
    wait_for(lambda: fraud.worker.metrics.blocked == 1, 30, "the block")
    assert set(hosts) == {"http://127.0.0.1"}, set(hosts)


def test_the_api_docs_load_offline(api: Api, browser: Browser) -> None:
    hosts: list[str] = []
    context = browser.new_context()
    blocked: list[str] = []  # refused by the pages' Content-Security-Policy: never sent
    context.on("request", lambda r: hosts.append(r.url))
    context.on(
        "requestfailed",
        lambda r: (
            blocked.append(r.url)
            if (r.failure or "").lower() in ("csp", "net::err_blocked_by_csp")
            else None
        ),
    )
    page = context.new_page()
    page.goto(f"{api.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Vigil" in (page.text_content(".swagger-ui .info .title") or "")
    shot(page, "docs")
    page.goto(f"{api.url}/redoc")
    page.wait_for_selector("redoc h1, [role='main'] h1", timeout=20_000)
    shot(page, "redoc")
    local = urlparse(api.url).netloc
    away = [u for u in hosts if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc != local]  # fmt: skip
    # each asked for elsewhere was refused by the browser, never sent (failed as "csp")
    wait_for(lambda: set(away) <= set(blocked), 5, f"requests beyond 127.0.0.1: {away}")


def test_an_admin_sees_the_operations_page_follow_the_traffic(api: Api, browser: Browser) -> None:
    """The admin's page shows what ``vigil agents status`` reports and keeps up with it
    while the simulator's traffic (``vigil simulate``'s own producing loop) flows."""
    hosts: list[str] = []
    replica = Replica(api.settings, ["fraud"], "r-ops", ingest=False, beat_s=0.3)
    stop = threading.Event()
    traffic = threading.Thread(target=produce, args=(api.settings, plan_events(
        SimPlan(seed=3, customers=20, count=3000, run="ops"))),
        kwargs={"stop": stop, "rate": 150.0}, daemon=True)  # fmt: skip
    try:
        admin = sign_in(browser, api, "key-admin", hosts)
        admin.wait_for_selector(".ops-agent[data-agent='fraud']", timeout=20_000)
        assert admin.locator("#chat").is_hidden()
        assert admin.locator("#approvals").is_visible()  # admins answer approvals too
        before = int(admin.text_content(".ops-agent[data-agent='fraud'] .screened") or "0")
        traffic.start()
        admin.wait_for_function(
            """() => {
                const a = document.querySelector(".ops-agent[data-agent='fraud']");
                return a && Number(a.querySelector('.screened').textContent) > 200
                    && Number(a.querySelector('.rate').textContent.replace(/,/g, '')) > 0;
            }""",
            timeout=60_000,
        )
        after = int(admin.text_content(".ops-agent[data-agent='fraud'] .screened") or "0")
        assert after > before
        assert admin.locator(".ops-agent[data-agent='fraud'] svg.spark polyline").count() == 2
        ages = admin.locator("#ops-approvals tbody tr").all_text_contents()
        assert [a.split()[0] for a in ages] == ["under", "5-15", "15-60", "over"], ages
        shot(admin, "admin-operations")
        assert unnamed(admin) == []
        assert low_contrast(admin) == []
    finally:
        stop.set()
        traffic.join(30)
        replica.drain(10)
    assert set(hosts) == {"http://127.0.0.1"}, set(hosts)
