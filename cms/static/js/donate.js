/* The donation form: Stripe.js turns the card into a PaymentMethod (the card
   number never reaches our server); our server creates and confirms the
   payment in one call; 3-D Secure, when the bank asks for it, happens here. */
(function () {
  "use strict";
  const form = document.getElementById("donation-form");
  if (!form || typeof Stripe === "undefined") return;

  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card", {
    hidePostalCode: true,
    style: {base: {fontSize: "17px", color: "#1f2a2e", fontFamily: "Segoe UI, system-ui, sans-serif"}},
  });
  card.mount("#card-element");

  const $ = (id) => document.getElementById(id);
  const csrfToken = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";

  // The page may come from a shared cache: this visitor's one-time token (and
  // CSRF cookie) come from the server now, never from the page's HTML.
  const session = fetch(form.dataset.sessionUrl, {credentials: "same-origin", cache: "no-store"})
    .then((response) => response.json())
    .then((data) => {
      form.elements.form_token.value = data.form_token;
      if (data.recent_gift) {
        const notice = $("recent-gift");
        notice.textContent = `You gave ${data.recent_gift} a few minutes ago: thank you! If you meant to give again, please carry on below.`;
        notice.hidden = false;
      }
    });
  const alertBox = $("form-alert");
  const payButton = $("pay-button");
  const amountInput = form.elements.amount;
  const feeBp = parseInt(form.dataset.feeBp, 10);
  const feeFixed = parseInt(form.dataset.feeFixed, 10);
  let busy = false;

  const penceFrom = (text) => {
    const cleaned = String(text || "").replace(/[£,\s]/g, "");
    if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return null;
    const [pounds, pennies = ""] = cleaned.split(".");
    return parseInt(pounds, 10) * 100 + parseInt((pennies + "00").slice(0, 2), 10);
  };
  const money = (pence) => "£" + (pence / 100).toFixed(2).replace(/\.00$/, "");
  // The same sum as the server's fee_cover_pence: the fee on the total, rounded up.
  const feeCover = (pence) => Math.ceil(((pence + feeFixed) * 10000) / (10000 - feeBp)) - pence;
  const frequency = () => form.elements.frequency.value;

  function refresh() {
    const monthly = frequency() === "monthly";
    document.querySelectorAll(".presets").forEach((el) => { el.hidden = el.dataset.frequency !== frequency(); });
    document.querySelectorAll(".monthly-only").forEach((el) => { el.hidden = !monthly; });
    const pence = penceFrom(amountInput.value);
    document.querySelectorAll(".preset").forEach((b) => b.setAttribute("aria-pressed", String(parseInt(b.dataset.amount, 10) === pence)));
    const cover = pence ? feeCover(pence) : 0;
    $("cover-fee-label").textContent = pence
      ? `Add ${money(cover)} to cover the card fee, so all of my ${money(pence)} reaches children`
      : "Add a little to cover the card fee, so all of my gift reaches children";
    const total = pence ? pence + (form.elements.cover_fee.checked ? cover : 0) : null;
    $("pay-amount").textContent = total ? money(total) : "";
  }

  document.querySelectorAll(".preset").forEach((button) => button.addEventListener("click", () => {
    amountInput.value = (parseInt(button.dataset.amount, 10) / 100).toString();
    refresh();
  }));
  form.querySelectorAll("input[name=frequency]").forEach((radio) => radio.addEventListener("change", () => {
    const first = document.querySelector(`.presets[data-frequency="${frequency()}"] .preset:nth-child(2)`);
    if (first) amountInput.value = (parseInt(first.dataset.amount, 10) / 100).toString();
    refresh();
  }));
  amountInput.addEventListener("input", refresh);
  form.elements.cover_fee.addEventListener("change", refresh);

  // The phone number is asked for when calls or texts are ticked, and sent only then.
  const phoneField = $("phone-field");
  function togglePhone() {
    const wanted = form.elements.consent_phone.checked || form.elements.consent_sms.checked;
    phoneField.hidden = !wanted;
    form.elements.phone.disabled = !wanted;
  }
  [form.elements.consent_phone, form.elements.consent_sms].forEach((box) => box.addEventListener("change", togglePhone));
  togglePhone();
  card.on("change", (event) => showCardError(event && event.error ? cardErrorText(event.error) : ""));

  // Stripe.js words card and validation errors for the person paying; anything
  // else (a refused request, a lost connection) is said here in plain words.
  function cardErrorText(error) {
    if (error && (error.type === "card_error" || error.type === "validation_error") && error.message) return error.message;
    return "We could not check your card details. Please check the card number, the expiry month and year, " +
      "and the security code, then try again. You have not been charged.";
  }

  function showCardError(message) {
    const el = $("card-errors");
    el.textContent = message || "";
    el.hidden = !message;
  }

  function showErrors(message, fields) {
    form.querySelectorAll(".field-error").forEach((el) => { if (el.id !== "card-errors") { el.hidden = true; el.textContent = ""; } });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    Object.entries(fields || {}).forEach(([name, text]) => {
      const el = $("error-" + name);
      const input = form.elements[name];
      if (el) { el.textContent = text; el.hidden = false; }
      if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
    });
    alertBox.textContent = message || "";
    alertBox.hidden = !message;
    if (message) alertBox.scrollIntoView({behavior: "smooth", block: "center"});
  }

  function setBusy(on) {
    busy = on;
    payButton.disabled = on;
    payButton.classList.toggle("is-busy", on);
    payButton.setAttribute("aria-busy", String(on));
  }

  async function post(url, data) {
    await session;
    const response = await fetch(url, {method: "POST", body: data, credentials: "same-origin",
                                       headers: {"X-Requested-With": "fetch", "X-CSRFToken": csrfToken()}});
    const body = await response.json().catch(() => ({error: "Something went wrong on our side. You have not been charged."}));
    return body;
  }

  function renewToken(body) {
    // After a failed payment, a new attempt is a new gift.
    if (body.new_form_token) form.elements.form_token.value = body.new_form_token;
  }

  async function finish(body) {
    if (body.redirect) { window.location.assign(body.redirect); return true; }
    if (body.status === "requires_action" && body.client_secret) {
      const result = await stripe.handleNextAction({clientSecret: body.client_secret});
      const data = new FormData();
      data.set("form_token", form.elements.form_token.value);
      const confirmed = await post(body.confirm_url, data);
      if (result && result.error && !confirmed.redirect) {
        renewToken(confirmed);
        showErrors(confirmed.error || cardErrorText(result.error), {});
        return false;
      }
      return finish(confirmed);
    }
    renewToken(body);
    showErrors(body.error || "Sorry, something went wrong. You have not been charged.", body.fields);
    return false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;  // a second press of Pay does nothing
    setBusy(true);
    showErrors("", {});
    try {
      const name = `${form.elements.first_name.value} ${form.elements.last_name.value}`.trim();
      const billing = {name, email: form.elements.email.value};
      let body;
      if (frequency() === "monthly") {
        body = await post(form.dataset.monthlyUrl, new FormData(form));
        if (body.client_secret && body.setup) {
          const result = await stripe.confirmCardSetup(body.client_secret, {payment_method: {card, billing_details: billing}});
          if (result.error) { showCardError(cardErrorText(result.error)); return; }
          const data = new FormData();
          data.set("form_token", form.elements.form_token.value);
          body = await post(body.confirm_url, data);
        }
      } else {
        const created = await stripe.createPaymentMethod({type: "card", card, billing_details: billing});
        if (created.error) { showCardError(cardErrorText(created.error)); return; }
        const data = new FormData(form);
        data.set("payment_method_id", created.paymentMethod.id);
        body = await post(form.action, data);
      }
      if (await finish(body)) return;
    } catch (error) {
      showErrors("We could not reach our payment processor. Please check your connection and try again; you will not be charged twice.", {});
    } finally {
      if (!document.hidden) setBusy(false);
    }
  });

  refresh();
})();
