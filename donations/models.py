# Donations, recurring gifts, Stripe and Gift Aid claims arrive with the online giving work.
