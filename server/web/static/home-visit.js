// The home visit's page: a button that copies the text to send by SMS or Zalo.
// Without JavaScript the button stays hidden and the text can be selected by hand.
(function () {
  "use strict";
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { button.textContent = button.getAttribute("data-done"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
      } else {
        source.focus();
        source.select();
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected: the officer copies */ }
      }
    });
  });
}());
