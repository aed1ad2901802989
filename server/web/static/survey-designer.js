// The questionnaire designer without a round trip for the kind of a
// question: its options show only for single and multiple choice. The form
// works the same without this script (the options are then always shown).
(function () {
  "use strict";
  var form = document.getElementById("designer");
  if (!form) { return; }
  form.classList.add("js");
  form.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.classList || !select.classList.contains("kind")) { return; }
    var item = select.closest(".question");
    item.className = item.className.replace(/\bkind-\S+/, "kind-" + select.value);
  });
}());
