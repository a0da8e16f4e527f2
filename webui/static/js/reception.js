/* Front-desk helpers. The duplicate check runs while the receptionist types, so an existing
   patient is offered before a second record is made; the server checks again on submit, so
   this is a convenience, never the safeguard. */
(function () {
  "use strict";

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function renderMatches(box, matches) {
    box.textContent = "";
    if (!matches.length) {
      box.classList.remove("is-visible");
      return;
    }
    const heading = document.createElement("p");
    heading.innerHTML = "<strong>Already registered?</strong> Open the record instead of making a new one:";
    box.appendChild(heading);
    const list = document.createElement("ul");
    list.className = "duplicate-list";
    matches.forEach(function (match) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/reception/patients/" + encodeURIComponent(match.patient.id);
      const name = document.createElement("strong");
      name.textContent = (match.patient.first_name + " " + match.patient.last_name).trim();
      link.appendChild(name);
      item.appendChild(link);
      item.appendChild(document.createTextNode(
        " " + match.patient.mrn + " · " + match.patient.phone + " · " + match.reasons.join("; ")
      ));
      list.appendChild(item);
    });
    box.appendChild(list);
    box.classList.add("is-visible");
  }

  function initDuplicateCheck() {
    const form = document.querySelector("form[data-duplicate-check]");
    const box = document.getElementById("duplicate-live");
    if (!form || !box) return;
    const url = form.dataset.duplicateCheck;
    const field = function (name) {
      const input = form.elements.namedItem(name);
      return input ? input.value.trim() : "";
    };
    let lastQuery = "";
    const check = debounce(function () {
      const params = new URLSearchParams();
      const phone = field("phone");
      const dob = field("date_of_birth");
      if (phone.replace(/\D/g, "").length >= 7) params.set("phone", phone);
      if (dob && field("first_name")) {
        params.set("date_of_birth", dob);
        params.set("first_name", field("first_name"));
        params.set("last_name", field("last_name"));
      }
      const query = params.toString();
      if (query === lastQuery) return;
      lastQuery = query;
      if (!query) {
        renderMatches(box, []);
        return;
      }
      fetch(url + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { matches: [] }; })
        .then(function (body) { renderMatches(box, body.matches || []); })
        .catch(function () { /* Offline or signed out: the server checks on submit anyway. */ });
    }, 350);
    ["phone", "first_name", "last_name", "date_of_birth"].forEach(function (name) {
      const input = form.elements.namedItem(name);
      if (input) input.addEventListener("input", check);
    });
  }

  document.addEventListener("DOMContentLoaded", initDuplicateCheck);
})();
