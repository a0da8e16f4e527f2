/* Move an appointment by dragging its card to a free slot in the day book.
   Pointer events, not HTML5 drag-and-drop, so it works with a finger on a tablet. The server
   checks the move like any booking; a warning asks for the override reason, a block says why.

   On a touch screen a card must not steal the page's scrolling: the desk scrolls the book with
   the same finger that moves appointments, and most touches that start on a card are swipes.
   So, as in phone home screens and mail apps, a finger lifts a card only after resting on it
   for LONG_PRESS_MS without sliding; a swipe is left to the browser, which scrolls the page.
   A mouse or pen starts dragging as soon as it moves a few pixels with the button down, and a
   click without movement still opens the appointment. */
(function () {
  "use strict";

  const LONG_PRESS_MS = 350;
  // How far a resting finger may wander before the touch counts as a swipe. Fingers shake by a
  // pixel or two; browsers start scrolling after about ten.
  const TOUCH_SLOP_PX = 8;
  // How far a mouse or pen must move with the button down before a press becomes a drag.
  const DRAG_THRESHOLD_PX = 4;
  // The click a browser sends after a drag ends arrives within this time; it must not open
  // the appointment. A deadline, not a one-off listener: after a long press without a move
  // some browsers send no click, and a leftover listener would eat the next real tap.
  const CLICK_AFTER_DRAG_MS = 500;

  // The press or drag in progress: at most one, whichever pointer started it.
  let press = null;
  let swallowClicksUntil = 0;

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

  function movableCardAt(target) {
    const card = target && target.closest && target.closest("[data-movable]");
    // Only cards in a book the desk may change (the table says which day and offset).
    return card && card.closest("table.day-book[data-move-day]") ? card : null;
  }

  function lift(state) {
    state.active = true;
    state.card.classList.add("is-dragging");
  }

  function clear() {
    if (!press) return;
    clearTimeout(press.timer);
    press.card.classList.remove("is-dragging");
    if (press.over) press.over.classList.remove("is-drop-target");
    press = null;
  }

  function distance(event) {
    return Math.hypot(event.clientX - press.x, event.clientY - press.y);
  }

  function drop(state, cell) {
    const table = state.table;
    const day = table.dataset.moveDay;
    const offset = table.dataset.moveOffset.replace(/^([+-]\d\d)(\d\d)$/, "$1:$2");
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
  }

  // Everything listens on the document: the live refresh redraws the book in place, and
  // listeners on the old table would be gone with it.

  // Links are natively draggable; a native drag would cancel the pointer stream.
  document.addEventListener("dragstart", function (event) {
    if (movableCardAt(event.target)) event.preventDefault();
  });

  document.addEventListener("pointerdown", function (event) {
    const card = movableCardAt(event.target);
    if (!card || event.button > 0 || !event.isPrimary) return;
    clear();
    press = { card: card, table: card.closest("table.day-book"), id: card.dataset.movable,
              pointerId: event.pointerId, touch: event.pointerType === "touch",
              x: event.clientX, y: event.clientY, active: false, over: null, timer: null };
    if (press.touch) {
      const state = press;
      state.timer = setTimeout(function () { if (press === state) lift(state); }, LONG_PRESS_MS);
    }
  });

  document.addEventListener("pointermove", function (event) {
    if (!press || event.pointerId !== press.pointerId) return;
    if (!press.active) {
      if (press.touch) {
        // Slid before the hold was up: a swipe. The browser is scrolling the page.
        if (distance(event) > TOUCH_SLOP_PX) clear();
        return;
      }
      if (distance(event) < DRAG_THRESHOLD_PX) return;
      lift(press);
    }
    event.preventDefault(); // no text selection under a mouse drag
    const cell = slotAt(event.clientX, event.clientY);
    if (cell !== press.over) {
      if (press.over) press.over.classList.remove("is-drop-target");
      press.over = cell;
      if (cell) cell.classList.add("is-drop-target");
    }
  }, { passive: false });

  // Cards allow panning (touch-action in app.css), so once a card is lifted only a cancelled
  // touchmove keeps the page still under the finger; without it the browser would start
  // scrolling and cancel the drag. It must be registered non-passive before the touch
  // starts, and it does nothing unless a card is lifted, so scrolling stays as fast as before.
  document.addEventListener("touchmove", function (event) {
    if (press && press.active && event.cancelable) event.preventDefault();
  }, { passive: false });

  // A long press on a link opens the browser's menu (and cancels the pointer) on touch
  // screens; while a card is pressed the hold means "lift", not "menu".
  document.addEventListener("contextmenu", function (event) {
    if (press && press.touch && movableCardAt(event.target) === press.card) event.preventDefault();
  });

  document.addEventListener("pointerup", function (event) {
    if (!press || event.pointerId !== press.pointerId) return;
    const state = press;
    const cell = state.active ? state.over : null;
    clear();
    if (!state.active) return; // A tap or click: the link opens the appointment as usual.
    swallowClicksUntil = Date.now() + CLICK_AFTER_DRAG_MS;
    if (cell) drop(state, cell);
  });

  document.addEventListener("click", function (event) {
    if (Date.now() < swallowClicksUntil && movableCardAt(event.target)) {
      swallowClicksUntil = 0;
      event.preventDefault();
    }
  }, true);

  // The browser took the pointer over, for scrolling or a gesture: nothing moves.
  document.addEventListener("pointercancel", function (event) {
    if (press && event.pointerId === press.pointerId) clear();
  });
})();
