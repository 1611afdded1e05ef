// Buttons marked data-print print the page (a script file, not an inline handler, so the CSP holds).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
