"""The chart of accounts journals post to: Finance's codes (the ChartOfAccounts
setting, edited under Settings) and each campaign's income code and fund."""

import re

from django.db import transaction
from wagtail.log_actions import log

from campaigns.models import Campaign
from config.errors import ApplicationError
from finance.models import CampaignLedgerCode

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")


@transaction.atomic
def campaign_ledger_code_set(*, campaign: Campaign, income_code: str, fund: str, by=None) -> CampaignLedgerCode:
    """Give a campaign its income code (blank: its fund's default, which journals
    flag) and fund. Idempotent; logged in Wagtail's history with who made it.
    ApplicationError for a code no accounts package would take."""
    income_code = (income_code or "").strip()
    if income_code and not _CODE.fullmatch(income_code):
        raise ApplicationError("An account code is letters and digits as your accounts package has it (e.g. 201), "
                               "with no spaces, at most 20 characters.", field="income_code")
    if fund not in CampaignLedgerCode.Fund.values:
        raise ApplicationError("Choose restricted or unrestricted.", field="fund")
    code, created = CampaignLedgerCode.objects.select_for_update().get_or_create(
        campaign=campaign, defaults={"income_code": income_code, "fund": fund})
    if not created and (code.income_code, code.fund) == (income_code, fund):
        return code
    code.income_code, code.fund = income_code, fund
    code.full_clean()
    code.save()
    log(instance=code, action="wagtail.create" if created else "wagtail.edit", user=by,
        title=f"{campaign.name}: {income_code or 'default'} ({code.get_fund_display().lower()})")
    return code
