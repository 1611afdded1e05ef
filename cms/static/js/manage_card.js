/* Updating the card of a monthly gift: our server makes a SetupIntent, Stripe.js
   saves the card with it, our server records the new card. */
(function () {
  "use strict";
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card", {hidePostalCode: true});
  card.mount("#card-element");
  const errors = document.getElementById("card-errors");
  const notice = document.getElementById("card-notice");
  const button = document.getElementById("card-button");
  const csrf = form.elements.csrfmiddlewaretoken.value;
  const post = async (url, data) => {
    data.set("csrfmiddlewaretoken", csrf);
    const response = await fetch(url, {method: "POST", body: data, credentials: "same-origin"});
    return response.json().catch(() => ({error: "Something went wrong. Please try again."}));
  };
  const show = (el, text) => { el.textContent = text || ""; el.hidden = !text; };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    show(errors, ""); show(notice, "");
    try {
      const setup = await post(form.dataset.setupUrl, new FormData());
      if (setup.error) { show(errors, setup.error); return; }
      const result = await stripe.confirmCardSetup(setup.client_secret, {payment_method: {card}});
      if (result.error) {
        // Stripe.js words card and validation errors for people; anything else is said plainly.
        const worded = result.error.type === "card_error" || result.error.type === "validation_error";
        show(errors, worded && result.error.message ? result.error.message : "We could not check your card details. " +
          "Please check the card number, the expiry month and year, and the security code, then try again.");
        return;
      }
      const done = new FormData(); done.set("setup_intent", result.setupIntent.id);
      const saved = await post(form.dataset.savedUrl, done);
      if (saved.error) show(errors, saved.error); else show(notice, saved.message);
    } finally {
      button.disabled = false;
    }
  });
})();
