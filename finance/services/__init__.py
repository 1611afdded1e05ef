"""Finance's services, a module each: payouts (Stripe payouts and their lines),
bank (statements imported, credits matched), batches (paying-in batches of
offline gifts), stripe_report (Stripe's itemised payout report), journals (for
the accounts package), months (closing the books). Reads are in finance.selectors."""
