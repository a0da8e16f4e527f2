/* Move an appointment by dragging its card to a free slot in the day book.
   Pointer events, not HTML5 drag-and-drop, so it works with a finger on a tablet: press and
   hold a card for a moment, slide to the new slot, let go. The server checks the move like any
   booking; a warning asks for the override reason, a block says why. */
(function () {
  "use strict";

  const HOLD_MS = 250;

  function csrf() {
    return (document.body && document.body.dataset.csrfToken) || "";
  }

  function move(appointmentId, body) {
    return fetch("/api/v1/appointments/" + encodeURIComponent(appointmentId) + "/reschedule", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function slotAt(x, y) {
    const element = document.elementFromPoint(x, y);
    return element && element.closest ? element.closest("td[data-slot]") : null;
  }

  function init() {
    const table = document.querySelector("table.day-book[data-move-day]");
    if (!table) return;
    const day = table.dataset.moveDay;
    const offset = table.dataset.moveOffset.replace(/^([+-]\d\d)(\d\d)$/, "$1:$2");
    let drag = null;

    function clear() {
      if (!drag) return;
      clearTimeout(drag.timer);
      drag.card.classList.remove("is-dragging");
      if (drag.over) drag.over.classList.remove("is-drop-target");
      drag = null;
    }

    // Links are natively draggable; a native drag would cancel the pointer stream.
    table.addEventListener("dragstart", function (event) {
      if (event.target.closest && event.target.closest("[data-movable]")) event.preventDefault();
    });

    table.addEventListener("pointerdown", function (event) {
      const card = event.target.closest && event.target.closest("[data-movable]");
      if (!card || event.button > 0) return;
      drag = { card: card, id: card.dataset.movable, active: false, over: null,
               timer: setTimeout(function () {
                 if (!drag) return;
                 drag.active = true;
                 card.classList.add("is-dragging");
               }, HOLD_MS) };
    });

    document.addEventListener("pointermove", function (event) {
      if (!drag || !drag.active) return;
      event.preventDefault();
      const cell = slotAt(event.clientX, event.clientY);
      if (cell !== drag.over) {
        if (drag.over) drag.over.classList.remove("is-drop-target");
        drag.over = cell;
        if (cell) cell.classList.add("is-drop-target");
      }
    }, { passive: false });

    document.addEventListener("pointerup", function () {
      if (!drag) return;
      const state = drag;
      const cell = state.active ? state.over : null;
      clear();
      if (!state.active) return; // A tap: the link opens the appointment as usual.
      // Swallow the click that follows a drag so the card's link does not open.
      state.card.addEventListener("click", function (e) { e.preventDefault(); }, { once: true });
      if (!cell) return;
      const parts = cell.dataset.slot.split(" ");
      const body = { start: day + "T" + parts[1] + ":00" + offset, practitioner_id: parts[0] };
      move(state.id, body).then(function (answer) {
        if (answer.status === 409 && answer.data.needs_override) {
          const reason = window.prompt(answer.data.error + "\n\nReason for the override:");
          if (!reason) return null;
          body.override_reason = reason;
          return move(state.id, body);
        }
        return answer;
      }).then(function (answer) {
        if (!answer) return;
        if (answer.status >= 400) {
          window.alert(answer.data.error || "The appointment could not be moved.");
        }
        location.reload();
      }).catch(function () {
        window.alert("The appointment could not be moved: the box did not answer.");
      });
    });

    document.addEventListener("pointercancel", clear);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
