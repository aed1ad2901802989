// Writes a date field's day out in words beside it (the <output> the
// date_field macro puts after it), as the page first showed it: the weekday
// names and the pattern come from the page, in its language.
(function () {
  "use strict";

  function update(field) {
    var words = document.getElementById(field.id + "-words");
    if (!words || !words.classList.contains("date-words")) return;
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(field.value);
    if (!parts) {
      words.textContent = "";
      return;
    }
    var day = new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3]));
    // Monday first, as the page's names are (getUTCDay counts from Sunday).
    var weekday = words.dataset.weekdays.split("|")[(day.getUTCDay() + 6) % 7];
    words.textContent = words.dataset.pattern
      .replace("{weekday}", weekday)
      .replace("{date}", parts[3] + "/" + parts[2] + "/" + parts[1]);
  }

  function follow(event) {
    var field = event.target;
    if (field instanceof HTMLInputElement && field.type === "date") update(field);
  }

  document.addEventListener("input", follow);
  document.addEventListener("change", follow);
})();
