"""The donations app's services, a module each: gifts (taking and recording
them), monthly (monthly gifts and their charges), refunds (and disputes), totals
(a gift's worth to its campaign), resync (the daily re-sync from Stripe),
gift_aid_rules (which gifts carry Gift Aid), gift_aid_claims (claims to HMRC),
statements (annual giving statements), rollups (the daily income figures
the dashboard reads). This index names the gift functions
other apps and the views call; the others are used as modules. Reads are in
donations.selectors."""

from donations.services.gifts import (
    FORM_CONSENT_WORDING,
    SMALL_DONATION_MAX_PENCE,
    Gift,
    GiftOutcome,
    attribution_for,
    check_amount,
    donation_apply_payment_intent,
    donation_offline_withdraw,
    donation_record_failure,
    donation_record_offline,
    donation_refresh_from_stripe,
    donation_send_receipt,
    donation_start,
    donations_import,
    donations_record_stripe_fees,
    fee_cover_pence,
    gift_resolved,
    gift_row_for_form,
    gift_timeline_entry,
    online_gifts_record,
)
from donations.services.refunds import (
    donation_apply_dispute,
    donation_apply_refund_total,
    donation_refund,
    donation_sync_refunds,
    refund_record,
)
from donations.services.resync import donations_resync_day
from donations.services.rollups import income_rollups_rebuild
from donations.services.totals import campaign_totals_rebuild

__all__ = [
    "FORM_CONSENT_WORDING", "SMALL_DONATION_MAX_PENCE", "Gift", "GiftOutcome", "attribution_for", "campaign_totals_rebuild",
    "check_amount", "donation_apply_dispute", "donation_apply_payment_intent", "donation_apply_refund_total",
    "donation_offline_withdraw", "donation_record_failure", "donation_record_offline", "donation_refresh_from_stripe", "donation_refund",
    "donation_send_receipt", "donation_start", "donation_sync_refunds", "donations_import", "donations_record_stripe_fees", "donations_resync_day",
    "fee_cover_pence", "gift_row_for_form", "income_rollups_rebuild", "gift_timeline_entry", "refund_record",
]
