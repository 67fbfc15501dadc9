"""The web console in headless Chromium (Debian's, driven by Playwright): a customer sees
the answer stream in token by token; an analyst approves a proposal and sees it resolve."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from agents.service import AgentService
from ingestion.producer import EventProducer
from tests.agents.test_fraud_e2e import london_paris
from tests.api.conftest import Api
from tests.conftest import wait_for

ANSWER = " ".join(f"token{i}" for i in range(40))

pytestmark = pytest.mark.slow


def sign_in(browser: Browser, api: Api, key: str) -> Any:
    page = browser.new_context().new_page()  # a context each: its own session cookie
    page.goto(f"{api.url}/console")
    page.fill("#credential", key)
    page.click("#signin")
    return page


@pytest.mark.script(*[ANSWER] * 3)
def test_the_console_streams_a_chat_answer_and_approves_a_proposal(
    api: Api, fraud: AgentService, browser: Browser
) -> None:
    api.model.token_delay_s = 0.04
    customer = sign_in(browser, api, "key-john")
    customer.wait_for_function("document.querySelector('#who').textContent.includes('cust-john')")
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
    answer = customer.text_content(".msg.assistant .answer")
    assert answer is not None
    assert answer.split() == ANSWER.split()
    lengths = customer.evaluate("window.lengths")
    partial = sorted({n for n in lengths if 0 < n < len(ANSWER)})
    assert len(partial) > 10, f"the answer arrived in {len(partial)} partial steps"
    assert customer.locator(".step").count() == 2  # the lookup and the search, shown
    assert "Sources:" in (customer.text_content(".msg.assistant .cites") or "")
    assert customer.locator("#approvals").is_hidden()  # a customer has no inbox

    analyst = sign_in(browser, api, "key-ana")
    analyst.wait_for_selector("#feed-state:text('live')", timeout=10_000)
    with EventProducer(api.settings) as producer:
        producer.publish(london_paris())
    card = analyst.wait_for_selector(".approval", timeout=60_000)
    assert card is not None
    assert "Block" in (card.text_content() or "")
    assert "impossible travel" in (card.text_content() or "")
    analyst.click(".approval .approve")
    analyst.wait_for_selector(".approval.resolved", timeout=60_000)
    state = analyst.text_content(".approval.resolved .state") or ""
    assert state.startswith("approve by analyst.ana"), state
    # resolved = decided (the claim); the agent's resumed graph applies the block right after
    wait_for(lambda: fraud.worker.metrics.blocked == 1, 30, "the block")
