"""The Stripe webhook: signatures, storing each event once, order and repetition,
refunds and disputes made in Stripe, failures kept for retry."""

import datetime
import random
import uuid

import pytest
import requests
from django.utils import timezone

from config.errors import ApplicationError
from donations import services, webhooks
from donations.models import Donation, StripeEvent
from supporters.models import Interaction
from tests.donations.conftest import event_for, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_gift(card, django_capture_on_commit_callbacks):
    """A £25 gift taken through the real service, as the form takes it."""
    def make(number="4242424242424242", amount_pence=2500):
        gift = services.Gift(amount_pence=amount_pence, first_name="Ann", last_name="Lee",
                             email=f"ann{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
        with django_capture_on_commit_callbacks(execute=True):
            outcome = services.donation_start(gift=gift, payment_method_id=card(number))
        return outcome.donation
    return make


def intent_of(stripe_client, donation):
    return stripe_client.v1.payment_intents.retrieve(donation.stripe_payment_intent_id).to_dict()


class TestSignature:
    def test_a_bad_signature_gets_400_and_stores_nothing(self, deliver):
        event = event_for({"id": "pi_x", "object": "payment_intent", "status": "succeeded", "metadata": {}},
                          "payment_intent.succeeded")
        assert deliver(event, secret="whsec_wrong").status_code == 400
        assert deliver(event, signature="").status_code == 400
        assert deliver(event, signature="t=1,v1=deadbeef").status_code == 400
        assert not StripeEvent.objects.exists()

    @pytest.mark.parametrize("event", [
        {"object": "event", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}},   # no id
        {"id": "", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}},
        {"id": 42, "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}},
        {"id": "evt_1", "data": {"object": {"id": "pi_x"}}},                                          # no type
        {"id": "evt_1", "type": "payment_intent.succeeded"},                                          # no object
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": "pi_x"}},
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": []},
        ["evt_1"], "evt_1", None, 42,
    ])
    def test_a_signed_event_that_is_not_an_event_gets_400_and_stores_nothing(self, deliver, event):
        """Signed by Stripe (or with its secret) but not the shape of an event: a
        clear 400, not a 500 that claims it was stored for retry."""
        response = deliver(event)
        assert response.status_code == 400
        assert "not a Stripe event" in response.content.decode()
        assert not StripeEvent.objects.exists()

    def test_an_old_signature_is_refused(self, deliver):
        event = event_for({"id": "pi_x", "object": "payment_intent", "status": "succeeded", "metadata": {}},
                          "payment_intent.succeeded")
        import json
        stale = sign(json.dumps(event), timestamp=1_000_000_000)
        assert deliver(event, signature=stale).status_code == 400

    def test_unknown_events_are_stored_and_acknowledged(self, deliver):
        event = event_for({"id": "cus_1", "object": "customer"}, "customer.created")
        response = deliver(event)
        assert response.status_code == 200
        stored = StripeEvent.objects.get()
        assert (stored.type, stored.status) == ("customer.created", "ignored")

    def test_an_intent_that_is_not_ours_is_acknowledged(self, deliver):
        event = event_for({"id": "pi_elsewhere", "object": "payment_intent", "status": "requires_action",
                           "metadata": {}}, "payment_intent.requires_action")
        assert deliver(event).status_code == 200
        assert StripeEvent.objects.get().status == "ignored"


class TestNothingLostNothingTwice:
    def test_the_same_event_twice_and_ten_times(self, paid_gift, stripe_client, deliver):
        donation = paid_gift()
        Donation.objects.filter(pk=donation.pk).update(fee_pence=None, net_pence=None)
        event = event_for(intent_of(stripe_client, donation), "payment_intent.succeeded")
        for _ in range(10):
            assert deliver(event).status_code == 200
        assert StripeEvent.objects.count() == 1
        donation.refresh_from_db()
        assert donation.status == "succeeded" and donation.fee_pence == 58 and donation.net_pence == 2442
        assert Interaction.objects.filter(source_ref=f"donation:{donation.pk}").count() == 1
        assert Donation.objects.count() == 1

    def test_a_webhook_that_arrives_before_the_checkout_answer(self, card, stripe_client, deliver):
        """The webhook and the checkout call the same service: whichever is first wins."""
        supporter_gift = services.Gift(amount_pence=1000, first_name="B", last_name="C", email="b@example.org",
                                       form_token=uuid.uuid4())
        outcome = services.donation_start(gift=supporter_gift, payment_method_id=card())
        donation = outcome.donation
        Donation.objects.filter(pk=donation.pk).update(status="created", paid_at=None, fee_pence=None)
        deliver(event_for(intent_of(stripe_client, donation), "payment_intent.succeeded"))
        services.donation_apply_payment_intent(payment_intent=intent_of(stripe_client, donation))
        donation.refresh_from_db()
        assert donation.status == "succeeded" and donation.fee_pence == 35

    def test_events_in_reverse_order_end_the_same(self, card, stripe_client, deliver):
        gift = services.Gift(amount_pence=2500, first_name="D", last_name="E", email="d@example.org",
                             form_token=uuid.uuid4())
        donation = services.donation_start(gift=gift, payment_method_id=card("4000002760003184")).donation
        requires_action = event_for(intent_of(stripe_client, donation), "payment_intent.requires_action")
        secret = intent_of(stripe_client, donation)["client_secret"]
        requests.post(f"{stripe_client._requestor.base_addresses['api']}/v1/payment_intents/"
                      f"{donation.stripe_payment_intent_id}/_authenticate?success=true",
                      json={"key": "pk_test_localstripe", "client_secret": secret}).raise_for_status()
        succeeded = event_for(intent_of(stripe_client, donation), "payment_intent.succeeded")
        # Succeeded first, then the older requires_action, then succeeded again.
        for event in (succeeded, requires_action, succeeded, requires_action):
            assert deliver(event).status_code == 200
        donation.refresh_from_db()
        assert donation.status == "succeeded" and donation.paid_at is not None

    def test_every_event_ten_times_shuffled_leaves_the_same_books(self, paid_gift, stripe_client, deliver):
        gifts = [paid_gift(amount_pence=1000 * (i + 1)) for i in range(4)]
        stripe_client.v1.refunds.create(params={"payment_intent": gifts[0].stripe_payment_intent_id, "amount": 400})
        events = []
        for donation in gifts:
            intent = intent_of(stripe_client, donation)
            events.append(event_for(intent, "payment_intent.succeeded"))
            charge_id = intent["latest_charge"] if isinstance(intent["latest_charge"], str) else intent["latest_charge"]["id"]
            charge = stripe_client.v1.charges.retrieve(charge_id).to_dict()
            events.append(event_for(charge, "charge.refunded"))
        deliveries = events * 10
        random.Random(7).shuffle(deliveries)
        for event in deliveries:
            assert deliver(event).status_code == 200
        assert StripeEvent.objects.count() == len(events)
        assert Donation.objects.count() == 4
        totals = {d.pk: (d.status, d.amount_pence, d.refunded_pence) for d in Donation.objects.all()}
        assert totals[gifts[0].pk] == ("partly_refunded", 1000, 400)
        assert [totals[g.pk][0] for g in gifts[1:]] == ["succeeded"] * 3
        assert sum(d.kept_pence for d in Donation.objects.all()) == 1000 + 2000 + 3000 + 4000 - 400


class TestRefundsAndDisputes:
    def test_a_refund_made_in_stripes_dashboard(self, paid_gift, stripe_client, deliver):
        donation = paid_gift()
        stripe_client.v1.refunds.create(params={"payment_intent": donation.stripe_payment_intent_id, "amount": 1000})
        charge = stripe_client.v1.charges.retrieve(donation.stripe_charge_id).to_dict()
        deliver(event_for(charge, "charge.refunded", event_id="evt_r1"))
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence, donation.kept_pence) == ("partly_refunded", 1000, 1500)
        stripe_client.v1.refunds.create(params={"payment_intent": donation.stripe_payment_intent_id, "amount": 1500})
        charge = stripe_client.v1.charges.retrieve(donation.stripe_charge_id).to_dict()
        deliver(event_for(charge, "charge.refunded", event_id="evt_r2"))
        deliver(event_for({**charge, "amount_refunded": 1000}, "charge.refunded", event_id="evt_r1_late"))
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence, donation.kept_pence) == ("refunded", 2500, 0)
        # One record per Stripe refund, with its id and balance transaction, however often the event came.
        refunds = list(donation.refunds.order_by("amount_pence").values_list("amount_pence", "stripe_refund_id",
                                                                             "stripe_balance_transaction_id"))
        assert [r[0] for r in refunds] == [1000, 1500]
        assert all(r[1].startswith("re_") and r[2].startswith("txn_") for r in refunds)

    def test_staff_refund_through_stripe(self, paid_gift, fundraiser):
        donation = paid_gift()
        services.donation_refund(donation=donation, amount_pence=500, reason="Gave twice by mistake", by=fundraiser)
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence) == ("partly_refunded", 500)
        with pytest.raises(ApplicationError, match="Refund between"):
            services.donation_refund(donation=donation, amount_pence=2001, reason="too much")
        services.donation_refund(donation=donation, amount_pence=2000, reason="Asked for the rest back")
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence) == ("refunded", 2500)
        first = donation.refunds.order_by("created_at", "pk").first()
        assert (first.amount_pence, first.reason, first.made_by) == (500, "Gave twice by mistake", fundraiser)

    def test_a_dispute_opened_then_lost(self, paid_gift, deliver):
        donation = paid_gift()
        dispute = {"id": "dp_1", "object": "dispute", "charge": donation.stripe_charge_id,
                   "payment_intent": donation.stripe_payment_intent_id, "amount": 2500, "currency": "gbp",
                   "status": "needs_response", "reason": "fraudulent"}
        deliver(event_for(dispute, "charge.dispute.created"))
        donation.refresh_from_db()
        assert donation.status == "disputed" and donation.kept_pence == 2500
        deliver(event_for({**dispute, "status": "lost"}, "charge.dispute.closed"))
        deliver(event_for(dispute, "charge.dispute.created", event_id="evt_dispute_replayed_late"))
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence, donation.kept_pence) == ("refunded", 2500, 0)

    def test_a_dispute_lost_after_a_partial_refund_takes_the_rest(self, paid_gift, stripe_client, deliver):
        donation = paid_gift()
        stripe_client.v1.refunds.create(params={"payment_intent": donation.stripe_payment_intent_id, "amount": 500})
        charge = stripe_client.v1.charges.retrieve(donation.stripe_charge_id).to_dict()
        deliver(event_for(charge, "charge.refunded"))
        dispute = {"id": "dp_3", "object": "dispute", "charge": donation.stripe_charge_id, "amount": 2000,
                   "status": "lost", "payment_intent": donation.stripe_payment_intent_id, "currency": "gbp"}
        for _ in range(2):
            deliver(event_for(dispute, "charge.dispute.closed"))
        donation.refresh_from_db()
        assert (donation.status, donation.refunded_pence, donation.kept_pence) == ("refunded", 2500, 0)

    def test_a_dispute_won(self, paid_gift, deliver):
        donation = paid_gift()
        dispute = {"id": "dp_2", "object": "dispute", "charge": donation.stripe_charge_id, "amount": 2500,
                   "status": "needs_response", "payment_intent": donation.stripe_payment_intent_id}
        deliver(event_for({**dispute, "status": "won"}, "charge.dispute.closed"))
        deliver(event_for(dispute, "charge.dispute.created"))
        donation.refresh_from_db()
        assert donation.status == "succeeded" and donation.dispute_status == "won"


class TestFailures:
    def test_a_failing_event_is_kept_with_its_error_and_can_be_retried(self, paid_gift, stripe_client, deliver,
                                                                       monkeypatch):
        donation = paid_gift()
        Donation.objects.filter(pk=donation.pk).update(status="created", paid_at=None)
        event = event_for(intent_of(stripe_client, donation), "payment_intent.payment_failed", event_id="evt_boom")

        def broken(event):
            raise RuntimeError("database went away")
        monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.payment_failed", broken)
        assert deliver(event).status_code == 200  # stored: Stripe need not send it again
        stored = StripeEvent.objects.get(stripe_id="evt_boom")
        assert stored.status == "failed" and "database went away" in stored.error
        monkeypatch.undo()
        webhooks.stripe_event_process(stored_event_id=stored.pk)
        stored.refresh_from_db()
        assert stored.status == "processed" and stored.attempts == 2 and not stored.error

    def test_a_failed_event_is_tried_again_by_the_schedule_for_three_days(self, paid_gift, stripe_client, deliver,
                                                                          monkeypatch):
        from django.core.management import call_command

        donation = paid_gift()
        Donation.objects.filter(pk=donation.pk).update(status="created", paid_at=None)
        event = event_for(intent_of(stripe_client, donation), "payment_intent.payment_failed", event_id="evt_late")
        monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.payment_failed",
                            lambda event: (_ for _ in ()).throw(RuntimeError("a bug, fixed tomorrow")))
        deliver(event)
        deliver(event)  # Stripe's retry: stored already, nothing more
        assert StripeEvent.objects.get(stripe_id="evt_late").attempts == 1
        monkeypatch.undo()
        StripeEvent.objects.filter(stripe_id="evt_late").update(received_at=timezone.now() - datetime.timedelta(days=4))
        call_command("apply_stripe_events")  # too old: left for staff to look at
        assert StripeEvent.objects.get(stripe_id="evt_late").status == "failed"
        StripeEvent.objects.filter(stripe_id="evt_late").update(received_at=timezone.now() - datetime.timedelta(days=2))
        call_command("apply_stripe_events")
        stored = StripeEvent.objects.get(stripe_id="evt_late")
        assert (stored.status, stored.attempts) == ("processed", 2)
        donation.refresh_from_db()
        assert donation.status == "succeeded"  # as the event's PaymentIntent says

    def test_events_stored_while_no_worker_ran_are_applied_in_batches_by_the_schedule(self, paid_gift, stripe_client,
                                                                                     deliver, settings):
        from django.core.management import call_command

        gifts = [paid_gift(amount_pence=1000 + i) for i in range(5)]
        Donation.objects.update(status="created", paid_at=None, fee_pence=None, net_pence=None)
        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # no worker runs
        for gift in gifts:
            assert deliver(event_for(intent_of(stripe_client, gift), "payment_intent.succeeded")).status_code == 200
        assert set(Donation.objects.values_list("status", flat=True)) == {"created"}
        assert StripeEvent.objects.filter(status="received").count() == 5
        webhooks.stripe_events_apply(batch_size=2)
        assert set(Donation.objects.values_list("status", flat=True)) == {"succeeded"}
        assert StripeEvent.objects.filter(status="processed").count() == 5
        call_command("apply_stripe_events")  # nothing left: changes nothing
        assert Donation.objects.filter(status="succeeded").count() == 5


    def test_a_signed_body_with_nan_or_infinity_is_refused_as_not_json(self):
        # Found by the fuzz tests: Python reads them, PostgreSQL cannot store them (a 500 for ever).
        from django.test import Client

        payload = '{"id": "evt_odd", "type": "charge.updated", "data": {"object": {"id": "ch_1", "amount": Infinity}}}'
        response = Client().post("/stripe/webhook/", data=payload, content_type="application/json",
                                 headers={"Stripe-Signature": sign(payload)})
        assert response.status_code == 400 and b"not JSON" in response.content
        assert not StripeEvent.objects.exists()

    def test_a_signed_event_we_cannot_read_is_answered_and_kept_failed_for_finance(self, deliver):
        # Found by the fuzz tests: a dispute without its charge once answered 500 for ever.
        event = event_for({"id": "dp_odd", "object": "dispute", "amount": 100, "status": "won"},
                          "charge.dispute.closed", event_id="evt_odd")
        assert deliver(event).status_code == 200
        stored = StripeEvent.objects.get(stripe_id="evt_odd")
        assert stored.status == "failed" and "KeyError" in stored.error


class TestResync:
    def test_a_day_is_recovered_from_stripe_after_a_webhook_outage(self, paid_gift, stripe_client):
        from django.core.management import call_command
        from django.utils import timezone

        gifts = [paid_gift(amount_pence=1000 * (i + 1)) for i in range(3)]
        stripe_client.v1.refunds.create(params={"payment_intent": gifts[2].stripe_payment_intent_id, "amount": 3000})
        # The webhooks never arrived: our records lag behind Stripe.
        Donation.objects.update(status="created", paid_at=None, fee_pence=None, net_pence=None)
        call_command("sync_stripe_payments", date=timezone.localdate().isoformat())
        books = {d.pk: (d.status, d.fee_pence, d.refunded_pence) for d in Donation.objects.all()}
        assert books[gifts[0].pk] == ("succeeded", 35, 0)
        assert books[gifts[1].pk] == ("succeeded", 50, 0)
        assert books[gifts[2].pk] == ("refunded", 65, 3000)
        call_command("sync_stripe_payments", date=timezone.localdate().isoformat())  # again: nothing changes
        assert {d.pk: (d.status, d.fee_pence, d.refunded_pence) for d in Donation.objects.all()} == books
