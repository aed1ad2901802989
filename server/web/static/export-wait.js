// The export form while its file is being made: a month's XLSX takes many
// seconds to build before its first byte. On submit the page says it is
// preparing the file and the button rests, until the answer's export_ready
// cookie carries back the token this submission sent (the download has
// begun: the page itself stays as it is).
(function () {
  "use strict";

  var form = document.querySelector("form.export-form");
  if (!form) return;
  var note = document.getElementById("export-wait");
  var button = form.querySelector("button[type=submit]");
  var field = form.querySelector("input[name=ready]");
  var timer = null;

  function arrived(token) {
    var found = /(?:^|;\s*)export_ready=([0-9a-f]+)/.exec(document.cookie);
    return found !== null && found[1] === token;
  }

  form.addEventListener("submit", function () {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    var token = Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
    field.value = token;  // sent with this submission: the form's values are read after this event
    note.hidden = false;
    // Once the submission has left: a second click would build a second file.
    window.setTimeout(function () { button.disabled = true; }, 0);
    window.clearInterval(timer);
    timer = window.setInterval(function () {
      if (!arrived(token)) return;
      window.clearInterval(timer);
      note.hidden = true;
      button.disabled = false;
    }, 300);
  });
})();
