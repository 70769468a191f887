// The lead tester's JSON fields, checked in the browser before the form is
// sent (the server checks them again). Each textarea[data-json] names the
// shape it wants: "object", "array-objects" or "array-strings".
(function () {
  "use strict";
  var form = document.getElementById("lead-tester");
  if (!form) return;

  var wants = {
    "object": "Must be a JSON object, like {\"name\": \"Jane Smith\"}.",
    "array-objects": "Must be a JSON array of objects with date, type and summary or content.",
    "array-strings": "Must be a JSON array of strings, like [\"analytics\"]."
  };

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  // problem returns what is wrong with the field's text, or "".
  function problem(text, shape) {
    if (text.trim() === "") return "";
    var v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return "Not valid JSON: " + e.message;
    }
    var ok = shape === "object" ? isObject(v)
      : shape === "array-objects" ? Array.isArray(v) && v.every(isObject)
      : shape === "array-strings" ? Array.isArray(v) && v.every(function (s) { return typeof s === "string"; })
      : true;
    return ok ? "" : wants[shape];
  }

  function check(area) {
    var msg = problem(area.value, area.getAttribute("data-json"));
    var out = document.getElementById(area.id + "-json");
    if (out) {
      out.textContent = msg;
      out.hidden = msg === "";
    }
    if (msg) area.setAttribute("aria-invalid", "true");
    else area.removeAttribute("aria-invalid");
    return msg === "";
  }

  var areas = form.querySelectorAll("textarea[data-json]");
  areas.forEach(function (a) {
    a.addEventListener("input", function () { check(a); });
  });
  form.addEventListener("submit", function (e) {
    var first = null;
    areas.forEach(function (a) {
      if (!check(a) && !first) first = a;
    });
    if (first) {
      e.preventDefault();
      first.focus();
    }
  });
})();
