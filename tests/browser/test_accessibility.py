"""axe-core, run inside real Chromium, finds no serious or critical WCAG 2.x A/AA
problem on the public pages, at a phone's width and a desktop's.

axe-core is installed by `make test` (npm, into .cache/axe, which git ignores);
this file only reads it from there and never downloads anything."""

from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import expect

from campaigns.models import FundraiserPage
from campaigns.services import fundraiser_page_create, fundraiser_page_review
from tests.browser.conftest import inject_script
from tests.browser.conftest import BROWSER_DB
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser

AXE_JS = Path(__file__).resolve().parents[2] / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
# The local Stripe's stand-in card widget; on the real site Stripe's own iframe is there.
EXCLUDE = ["#card-element"]
TARGETS_SHOWN = 3

RUN_AXE = """async ({tags, exclude}) => {
    const results = await axe.run(
        {exclude: exclude.map((selector) => [selector])},
        {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]},
    );
    return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({target: n.target, failureSummary: n.failureSummary})),
    }));
}"""


@cache
def axe_source():
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is not installed ({AXE_JS} is missing). Run `make test` "
                    f"(or `make axe`) once to install it with npm, then run this test again.", pytrace=False)
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture
def fundraiser_page(marathon_page):
    page = fundraiser_page_create(
        campaign=marathon_page.campaign, supporter=SupporterFactory(first_name="Sam", last_name="Okafor"),
        title="Sam runs for families", story="Twenty-six miles for children who deserve a home.",
        target_pence=50_000)
    return fundraiser_page_review(page=page, status=FundraiserPage.Status.APPROVED)


def _report(violations, path, width):
    lines = [f"axe found {len(violations)} serious/critical WCAG A/AA violation(s) on {path} at {width}px:"]
    for v in violations:
        targets = [" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
                   for node in v["nodes"]]
        more = f" (+{len(targets) - TARGETS_SHOWN} more)" if len(targets) > TARGETS_SHOWN else ""
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})")
        lines.append(f"    targets: {', '.join(targets[:TARGETS_SHOWN])}{more}")
        summary = " ".join((v["nodes"][0].get("failureSummary") or "").split()) if v["nodes"] else ""
        if summary:
            lines.append(f"    first node: {summary[:300]}{'...' if len(summary) > 300 else ''}")
    return "\n".join(lines)


@BROWSER_DB
@pytest.mark.parametrize("width, height", [(390, 844), (1366, 900)], ids=["phone", "desktop"])
@pytest.mark.parametrize("which", ["home", "campaign", "donate", "fundraiser", "not-found"])
def test_public_pages_have_no_serious_wcag_violations(new_page, live_server, stripe_settings, fundraiser_page,
                                                      which, width, height):
    source = axe_source()
    path, status = {
        "home": ("/", 200),
        "campaign": ("/marathon/", 200),
        "donate": ("/donate/", 200),
        "fundraiser": (f"/fundraise/{fundraiser_page.slug}/", 200),
        "not-found": ("/no-such-page/", 404),
    }[which]
    page = new_page(width, height)
    response = page.goto(live_server.url + path, wait_until="networkidle")
    assert response.status == status, f"{path} answered {response.status}, expected {status}"
    # Scan the page as a visitor meets it: with the donation form's script done.
    if page.locator("#donation-form").count():
        expect(page.locator("#donation-form input[name=form_token]")).not_to_have_value("")
    inject_script(page, source)
    violations = page.evaluate(RUN_AXE, {"tags": WCAG_TAGS, "exclude": EXCLUDE})
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, _report(blocking, path, width)
