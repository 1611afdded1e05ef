/* A paying-in batch's entry row, made quicker. Without this script the row is a
   plain form: each gift is posted and the page comes back with the focus on a
   fresh row. With it:
   - the supporter box offers the supporters matching what is typed (name,
     postcode or email): the arrow keys move through them, Enter picks one;
   - Enter saves the gift without reloading the page, puts the figures and the
     table right, and leaves the focus on the next row's first field (or on
     "Close the batch" once it adds up). Keys typed while a gift is being saved
     go into the next row, not lost. */
(function () {
  "use strict";

  var page = document.querySelector("[data-batch-page]");
  if (!page || !window.fetch || !window.FormData) return;
  var entryBox = page.querySelector("[data-batch-entry]");
  var statusBox = page.querySelector("[data-batch-status]");
  var giftsBox = page.querySelector("[data-batch-gifts]");
  var said = page.querySelector("[data-batch-said]");
  if (!entryBox) return;

  var saving = false;
  var typedAhead = "";

  function say(text, isError) {
    if (!said) return;
    said.textContent = text;
    said.classList.toggle("batch-said--error", Boolean(isError));
  }

  // --- the supporter picker (an ARIA combobox) ---------------------------------

  function picker(form) {
    var input = form.querySelector("[data-supporter-input]");
    if (!input) return;
    var url = form.getAttribute("data-lookup-url");
    var list = document.createElement("ul");
    list.id = "supporter-options";
    list.className = "batch-picker";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matching supporters");
    list.hidden = true;
    var anchor = document.createElement("div");  // the list opens just under the box
    anchor.className = "batch-picker-anchor";
    var hadFocus = document.activeElement === input;  // moving the box would lose it
    input.parentNode.insertBefore(anchor, input);
    anchor.appendChild(input);
    anchor.appendChild(list);
    if (hadFocus || input.hasAttribute("autofocus") && document.activeElement === document.body) input.focus();
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    var results = [];
    var active = -1;
    var asked = 0;
    var timer = null;

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      results = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (item, i) {
        item.setAttribute("aria-selected", i === index ? "true" : "false");
        if (i === index) {
          input.setAttribute("aria-activedescendant", item.id);
          item.scrollIntoView({ block: "nearest" });
        }
      });
    }

    function pick(index) {
      var chosen = results[index];
      if (!chosen) return;
      input.value = chosen.value;
      close();
      var amount = form.querySelector("[name=amount]");
      if (amount) amount.focus();
    }

    function show(found, query) {
      list.innerHTML = "";
      results = found;
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "batch-picker__none";
        none.textContent = "No supporter matches “" + query + "”";
        list.appendChild(none);
      }
      found.forEach(function (supporter, i) {
        var item = document.createElement("li");
        item.id = "supporter-option-" + i;
        item.setAttribute("role", "option");
        var name = document.createElement("strong");
        name.textContent = supporter.name;
        item.appendChild(name);
        item.appendChild(document.createTextNode(" " + supporter.reference));
        var detail = document.createElement("span");
        detail.className = "batch-picker__detail";
        detail.textContent = supporter.detail;
        item.appendChild(detail);
        item.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the box
          pick(i);
        });
        list.appendChild(item);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(found.length ? 0 : -1);
    }

    function search() {
      var query = input.value.replace(/\s+/g, " ").trim();
      // A reference is typed whole; one picked from the list is left alone.
      if (query.length < 2 || /^[Ss]?\d+$/.test(query) || /^[Ss]\d{7}\s/.test(query)) {
        close();
        return;
      }
      var ask = ++asked;
      fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          if (ask === asked && document.activeElement === input) show(data.results || [], query);
        })
        .catch(function () { /* the server's own search still works on save */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) {
        if (event.key === "ArrowDown" && input.value.trim().length >= 2) search();
        return;
      }
      if (event.key === "ArrowDown" && results.length) {
        event.preventDefault();
        highlight((active + 1) % results.length);
      } else if (event.key === "ArrowUp" && results.length) {
        event.preventDefault();
        highlight((active - 1 + results.length) % results.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  // --- saving a gift without reloading -------------------------------------------

  function focusAfter(result) {
    var form = entryBox.querySelector("form");
    var closeButton = statusBox && statusBox.querySelector("#close-batch");
    if (result.saved && result.adds_up && closeButton) {
      closeButton.focus();
      return;
    }
    var target = form.querySelector("[aria-invalid=true]") || form.querySelector("[data-supporter-input]");
    target.focus();
    if (result.saved && typedAhead && target.matches("[data-supporter-input]")) {
      target.value = typedAhead;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (target.select && !result.saved) target.select();
  }

  function replace(result) {
    statusBox.innerHTML = result.status;
    giftsBox.innerHTML = result.gifts;
    entryBox.innerHTML = result.form;
    enhance(entryBox.querySelector("form"));
    if (result.saved) {
      var first = giftsBox.querySelector("tbody tr");
      if (first) first.classList.add("batch-gift--new");
    }
  }

  function submit(form) {
    if (saving) return;
    saving = true;
    typedAhead = "";
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "paying-in-batch", Accept: "application/json" },
    })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) {
          // Signed out, or refused: post the row the plain way, and let the page say why.
          saving = false;
          HTMLFormElement.prototype.submit.call(form);
          return new Promise(function () {});
        }
        return response.json();
      })
      .then(function (result) {
        saving = false;
        replace(result);
        // A gift not saved is explained in the row's own alert; the last one saved no longer is news.
        say(result.saved ? result.message : "", !result.saved);
        focusAfter(result);
        typedAhead = "";
      })
      .catch(function () {
        saving = false;
        typedAhead = "";
        form.removeAttribute("aria-busy");
        say("Gift not saved: the connection failed. Press Enter to try again.", true);
      });
  }

  function enhance(form) {
    if (!form) return;
    picker(form);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form);
    });
    // Enter on the campaign list or the Gift Aid box saves too, as it does in a text box.
    form.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key === "Enter" && (target.tagName === "SELECT" || target.type === "checkbox")) {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit() : submit(form);
      }
    });
  }

  // While a gift is being saved, what is typed is the next supporter: keep it.
  document.addEventListener("keydown", function (event) {
    if (!saving) return;
    if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      typedAhead += event.key;
      event.preventDefault();
    } else if (event.key === "Backspace") {
      typedAhead = typedAhead.slice(0, -1);
      event.preventDefault();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
    }
  }, true);

  enhance(entryBox.querySelector("form"));
})();
