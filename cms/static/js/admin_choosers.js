// Wagtail's date, time and date-time pickers and inline panels, started from data attributes rather than an inline
// script after each field (cms/templates/wagtailadmin/widgets/*_input.html), so the admin runs
// under a Content Security Policy without 'unsafe-inline'. Fields added later (a filter form
// swapped in, a new inline form) are started too.
(function () {
  function start(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-chooser-init]:not([data-chooser-started])")
      .forEach(function (field) {
        var init = window[field.dataset.chooserInit];
        if (typeof init !== "function" || !field.id) return;
        field.setAttribute("data-chooser-started", "");
        init(field.id, JSON.parse(field.dataset.chooserConfig || "{}"));
      });
    // Wagtail's inline panels (cms/templates/wagtailadmin/panels/), likewise.
    (root.querySelectorAll ? root : document).querySelectorAll("[data-panel-init]:not([data-panel-started])")
      .forEach(function (marker) {
        var Panel = window[marker.dataset.panelInit];
        if (typeof Panel !== "function") return;
        marker.setAttribute("data-panel-started", "");
        new Panel(JSON.parse(marker.dataset.panelOptions));
      });
  }
  start(document);
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      change.addedNodes.forEach(function (node) { if (node.nodeType === 1) start(node.parentNode || node); });
    });
  }).observe(document.body, { childList: true, subtree: true });
})();
