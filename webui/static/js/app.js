/*
 * PhysioEZ staff web UI — progressive enhancement.
 *
 * Every page works without this file; it only adds convenience. Runs under
 * a strict CSP (script-src 'self'): no inline handlers, no eval, no
 * dependencies. Each feature checks for its own elements and quietly does
 * nothing when they are absent, so one template's markup can never break
 * another page.
 *
 * Configuration comes from <body data-*>:
 *   data-csrf-token, data-idle-lock-minutes, data-lock-url, data-signed-in,
 *   data-live, data-live-events, data-page
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------
  // Config & small helpers
  // ------------------------------------------------------------------

  function readConfig() {
    const ds = (document.body && document.body.dataset) || {};
    const minutes = Number.parseFloat(ds.idleLockMinutes);
    return {
      csrfToken: ds.csrfToken || "",
      idleLockMinutes: Number.isFinite(minutes) ? minutes : 0,
      lockUrl: ds.lockUrl || "/lock",
      signedIn: ds.signedIn === "1",
      live: ds.live === "1",
      liveEvents: (ds.liveEvents || "")
        .split(",")
        .map(function (s) { return s.trim(); })
        .filter(Boolean),
      page: ds.page || "",
    };
  }

  // Lock URL carrying the current page so unlocking returns the user to it.
  function lockHref(cfg) {
    const next = location.pathname + location.search;
    const sep = cfg.lockUrl.indexOf("?") === -1 ? "?" : "&";
    return cfg.lockUrl + sep + "next=" + encodeURIComponent(next);
  }

  // True when a key press is the user typing into a field, so shortcuts
  // must not steal it.
  function isTypingTarget(el) {
    if (!el || el.nodeType !== 1) return false;
    if (el.isContentEditable) return true;
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  // localStorage can throw (private mode, storage disabled, quota); the
  // idle lock must keep working per-tab in that case.
  const store = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { /* per-tab only */ }
    },
  };

  // One polite live region so screen readers hear "Copied", etc.
  let announcer = null;
  function announce(message) {
    if (!announcer) {
      announcer = document.createElement("div");
      announcer.className = "sr-only";
      announcer.setAttribute("role", "status");
      announcer.setAttribute("aria-live", "polite");
      document.body.appendChild(announcer);
    }
    // Clear first so repeating the same message is announced again.
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = message; }, 50);
  }

  // ------------------------------------------------------------------
  // 3. JSON API helper: window.physioez.api(method, url, body)
  //    Defined first (at load, not DOMContentLoaded) so page scripts can
  //    use it straight away.
  // ------------------------------------------------------------------

  async function api(method, url, body) {
    const verb = String(method || "GET").toUpperCase();
    const cfg = readConfig();
    const opts = {
      method: verb,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": cfg.csrfToken,
      },
    };
    if (body !== undefined && verb !== "GET" && verb !== "HEAD") {
      opts.body = JSON.stringify(body);
    }

    let res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      // fetch only rejects on network failure; give staff a useful message.
      const err = new Error("Could not reach the server. Check the connection and try again.");
      err.cause = e;
      err.status = 0;
      throw err;
    }

    const text = await res.text();
    let data = null;
    let parsed = true;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { parsed = false; }
    }

    if (!res.ok) {
      const msg = (data && typeof data.message === "string" && data.message) ||
        res.statusText || ("Request failed (" + res.status + ")");
      const err = new Error(msg);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    // A 200 HTML page usually means the session expired and fetch followed
    // a redirect to the sign-in page; don't pretend that was JSON.
    if (!parsed || (res.redirected && !data)) {
      const err = new Error("Unexpected response from the server. Your session may have ended — reload the page.");
      err.status = res.status;
      throw err;
    }
    return data;
  }

  window.physioez = Object.assign(window.physioez || {}, { api: api });

  // ------------------------------------------------------------------
  // 1. Idle lock, shared across tabs
  // ------------------------------------------------------------------

  const ACTIVITY_KEY = "physioez.lastActivity";
  const CHECK_EVERY_MS = 15000;
  const WRITE_THROTTLE_MS = 5000; // scroll/wheel fire constantly; don't hammer storage

  function initIdleLock(cfg) {
    if (!cfg.signedIn || !(cfg.idleLockMinutes > 0)) return;
    if (cfg.page === "lock") return; // already locked

    const idleMs = cfg.idleLockMinutes * 60000;
    let lastActivity = Date.now();
    let lastWrite = 0;
    let locking = false;

    function storedActivity() {
      const v = Number(store.get(ACTIVITY_KEY));
      return Number.isFinite(v) ? v : 0;
    }

    function markActive() {
      const now = Date.now();
      lastActivity = now;
      if (now - lastWrite >= WRITE_THROTTLE_MS) {
        lastWrite = now;
        store.set(ACTIVITY_KEY, String(now));
      }
    }

    function check() {
      if (locking) return;
      // Activity in any tab keeps every tab unlocked.
      const last = Math.max(lastActivity, storedActivity());
      if (Date.now() - last >= idleMs) {
        locking = true;
        location.assign(lockHref(cfg));
      }
    }

    // Loading a page is activity too.
    markActive();

    const opts = { passive: true, capture: true };
    ["pointerdown", "keydown", "touchstart", "wheel"].forEach(function (type) {
      document.addEventListener(type, markActive, opts);
    });
    // scroll does not bubble; capture catches scrolling inside containers.
    document.addEventListener("scroll", markActive, opts);

    window.addEventListener("storage", function (e) {
      if (e.key !== ACTIVITY_KEY || !e.newValue) return;
      const v = Number(e.newValue);
      if (Number.isFinite(v) && v > lastActivity) lastActivity = v;
    });

    window.setInterval(check, CHECK_EVERY_MS);
    // Timers are throttled in background tabs and stop while a tablet
    // sleeps; check as soon as the page is visible again.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") check();
    });
    // A page restored from the back/forward cache may still carry the
    // "locking" flag from when it navigated to the lock screen.
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) locking = false;
      check();
    });
  }

  // ------------------------------------------------------------------
  // 2. Confirm destructive actions
  // ------------------------------------------------------------------

  function initConfirm() {
    // Forms already confirmed via their submit button, so the user is not
    // asked twice when both the button and the form carry data-confirm.
    const confirmedForms = new WeakSet();

    document.addEventListener("click", function (e) {
      const el = e.target.closest && e.target.closest("button[data-confirm], a[data-confirm]");
      if (!el || el.disabled) return;
      if (!window.confirm(el.dataset.confirm)) {
        e.preventDefault();
        e.stopImmediatePropagation();
        return;
      }
      if (el.form) {
        confirmedForms.add(el.form);
        // Forget it if the submit never happens (e.g. validation failed).
        window.setTimeout(function () { confirmedForms.delete(el.form); }, 1000);
      }
    }, true);

    document.addEventListener("submit", function (e) {
      const form = e.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
      if (confirmedForms.has(form)) {
        confirmedForms.delete(form);
        return;
      }
      if (!window.confirm(form.dataset.confirm)) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    }, true);
  }

  // ------------------------------------------------------------------
  // 4. Live updates via socket.io
  // ------------------------------------------------------------------

  function initLive(cfg) {
    const banner = document.getElementById("live-banner") ||
      document.querySelector(".live-banner");
    const region = document.querySelector("[data-live-region]");
    const refreshInPlace = document.body.dataset.liveRefresh === "1" && region;

    // The reload button works even if live updates never connect.
    document.addEventListener("click", function (e) {
      const btn = e.target.closest && e.target.closest('[data-action="reload"]');
      if (btn) {
        e.preventDefault();
        location.reload();
      }
      const ask = e.target.closest && e.target.closest('[data-action="enable-notifications"]');
      if (ask && "Notification" in window) {
        e.preventDefault();
        Notification.requestPermission().then(function (answer) {
          ask.textContent = answer === "granted" ? "Alerts on" : "Alerts blocked by the browser";
        });
      }
    });

    if (!cfg.signedIn) return;

    function show() {
      if (!banner) return;
      banner.hidden = false;
      banner.classList.add("is-visible");
    }

    // Boards and the day book redraw themselves: fetch this page again and swap the live
    // region, so the desk never has to reload. Bursts of events collapse into one fetch.
    let pending = null;
    function refresh() {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) {
            if (!response.ok || response.redirected) throw new Error("not the same page");
            return response.text();
          })
          .then(function (html) {
            const fresh = new DOMParser().parseFromString(html, "text/html")
              .querySelector("[data-live-region]");
            if (!fresh) throw new Error("no live region");
            region.innerHTML = fresh.innerHTML;
          })
          .catch(show);
      }, 150);
    }

    function notice(message) {
      const text = (message && message.text) || "";
      if (!text) return;
      let box = document.getElementById("toasts");
      if (!box) {
        box = document.createElement("div");
        box.id = "toasts";
        box.className = "toasts";
        box.setAttribute("role", "status");
        document.body.appendChild(box);
      }
      const toast = document.createElement("div");
      toast.className = "toast";
      toast.textContent = text;
      box.appendChild(toast);
      setTimeout(function () { toast.remove(); }, 15000);
      if ("Notification" in window && Notification.permission === "granted") {
        try { new Notification("PhysioEZ", { body: text, tag: message.tag || text }); }
        catch (e) { /* some browsers allow notifications only from a service worker */ }
      }
    }

    let connected = false;
    function connect() {
      if (connected || typeof window.io !== "function") return;
      connected = true;
      let socket;
      try {
        socket = window.io({ transports: ["websocket", "polling"] });
      } catch (e) {
        return; // live updates are a nicety; the page still works
      }
      window.physioez = window.physioez || {};
      window.physioez.socket = socket;
      if (cfg.live) {
        cfg.liveEvents.forEach(function (name) {
          socket.on(name, refreshInPlace ? refresh : show);
        });
      }
      socket.on("notice", notice);
    }

    connect();
    // The socket.io client may be a later/deferred script tag.
    if (!connected) window.addEventListener("load", connect, { once: true });
  }

  // ------------------------------------------------------------------
  // 5. Keyboard shortcuts
  // ------------------------------------------------------------------

  function initShortcuts(cfg) {
    document.addEventListener("keydown", function (e) {
      if (e.defaultPrevented || e.isComposing) return;
      // Ignored while typing: "/" is a real character there, and leaving a
      // half-filled form via Alt+L would lose the input.
      if (isTypingTarget(e.target)) return;

      if (e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey) {
        const marked = document.querySelector("[data-search]");
        if (!marked) return;
        const input = /^(INPUT|TEXTAREA)$/.test(marked.tagName)
          ? marked
          : marked.querySelector("input, textarea");
        if (!input) return;
        e.preventDefault();
        input.focus();
        if (typeof input.select === "function") input.select();
        return;
      }

      // e.code as well: on macOS Alt+L types "¬", so e.key is not "l".
      if (cfg.signedIn && e.altKey && !e.ctrlKey && !e.metaKey &&
          (e.code === "KeyL" || e.key === "l" || e.key === "L")) {
        if (cfg.page === "lock") return;
        e.preventDefault();
        location.assign(lockHref(cfg));
      }
    });
  }

  // ------------------------------------------------------------------
  // 6. Flash messages
  // ------------------------------------------------------------------

  const FLASH_AUTOHIDE_MS = 8000;

  function removeFlash(flash) {
    if (!flash || flash.classList.contains("is-hiding")) return;
    flash.classList.add("is-hiding");
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      flash.remove();
    }
    flash.addEventListener("transitionend", finish, { once: true });
    // transitionend never fires with reduced motion / no transition.
    window.setTimeout(finish, 400);
  }

  function initFlashes() {
    document.addEventListener("click", function (e) {
      const btn = e.target.closest && e.target.closest(".flash-close");
      if (!btn) return;
      e.preventDefault();
      const flash = btn.closest(".flash");
      // Keep keyboard focus somewhere sensible once the button is gone.
      const main = document.querySelector(".main, main");
      removeFlash(flash);
      if (main && document.activeElement === btn) {
        if (!main.hasAttribute("tabindex")) main.setAttribute("tabindex", "-1");
        main.focus({ preventScroll: true });
      }
    });

    // Successes/info fade away; errors stay until dismissed. Don't pull a
    // message away while someone is pointing at or focused in it.
    function scheduleHide(flash, delay) {
      window.setTimeout(function () {
        if (!flash.isConnected) return;
        if (flash.matches(":hover") || flash.contains(document.activeElement)) {
          scheduleHide(flash, 3000);
          return;
        }
        removeFlash(flash);
      }, delay);
    }
    document.querySelectorAll(".flash-success, .flash-info").forEach(function (flash) {
      scheduleHide(flash, FLASH_AUTOHIDE_MS);
    });
  }

  // ------------------------------------------------------------------
  // 7. Copy to clipboard: <button data-copy-target="element-id">
  // ------------------------------------------------------------------

  // execCommand fallback: the appliance is often reached over plain http
  // on the clinic LAN, where navigator.clipboard is unavailable.
  function legacyCopy(text) {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.top = "0";
    ta.style.left = "-9999px";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    const prevFocus = document.activeElement;
    ta.focus();
    ta.select();
    ta.setSelectionRange(0, text.length); // iOS needs an explicit range
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    if (prevFocus && typeof prevFocus.focus === "function") prevFocus.focus({ preventScroll: true });
    return ok;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) { /* permission denied etc. — try the old way */ }
    }
    return legacyCopy(text);
  }

  // If every copy method fails, select the text so the user can copy it.
  function selectForManualCopy(el) {
    if (typeof el.select === "function") {
      el.focus();
      el.select();
      return;
    }
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function initCopy() {
    const originals = new WeakMap(); // button -> original child nodes
    const timers = new WeakMap();

    function flashLabel(btn, label) {
      if (!originals.has(btn)) originals.set(btn, Array.from(btn.childNodes));
      btn.textContent = label;
      window.clearTimeout(timers.get(btn));
      timers.set(btn, window.setTimeout(function () {
        // Restore the original nodes (keeps any icon markup intact).
        btn.replaceChildren.apply(btn, originals.get(btn));
        originals.delete(btn);
      }, 2000));
    }

    document.addEventListener("click", async function (e) {
      const btn = e.target.closest && e.target.closest("[data-copy-target]");
      if (!btn) return;
      const target = document.getElementById(btn.dataset.copyTarget);
      if (!target) return;
      e.preventDefault();
      const text = (typeof target.value === "string" ? target.value : target.textContent || "").trim();
      const ok = await copyText(text);
      if (ok) {
        flashLabel(btn, "Copied");
        announce("Copied to clipboard");
      } else {
        selectForManualCopy(target);
        announce("Copy failed. The text is selected; copy it manually.");
      }
    });
  }

  // ------------------------------------------------------------------
  // 8. Lock screen / PIN convenience
  // ------------------------------------------------------------------

  function initPin() {
    // Strip non-digits as typed (paste included), keeping the caret put.
    document.addEventListener("input", function (e) {
      const input = e.target;
      if (!(input instanceof HTMLInputElement)) return;
      if (!input.classList.contains("pin-input") || input.getAttribute("inputmode") !== "numeric") return;
      const v = input.value;
      const clean = v.replace(/\D+/g, "");
      if (clean === v) return;
      let pos = null;
      try { pos = input.selectionStart; } catch (err) { pos = null; }
      input.value = clean;
      if (pos !== null) {
        const newPos = v.slice(0, pos).replace(/\D+/g, "").length;
        try { input.setSelectionRange(newPos, newPos); } catch (err) { /* type=password in old browsers */ }
      }
    });

    function scopeOf(tile) {
      return tile.closest("form") || tile.closest(".user-grid") || document;
    }
    function usernameInput(scope) {
      return scope.querySelector('input[name="username"]') ||
        document.querySelector('input[name="username"]');
    }
    function pinInput(scope) {
      return scope.querySelector(".pin-input") || document.querySelector(".pin-input");
    }
    function markPressed(scope, chosen) {
      scope.querySelectorAll(".user-tile").forEach(function (t) {
        t.setAttribute("aria-pressed", t === chosen ? "true" : "false");
      });
    }

    document.addEventListener("click", function (e) {
      const tile = e.target.closest && e.target.closest(".user-tile");
      if (!tile) return;
      // A <button> in a form defaults to submit; picking a user must not
      // submit an empty PIN.
      e.preventDefault();
      const scope = scopeOf(tile);
      const user = usernameInput(scope);
      const pin = pinInput(scope);
      const name = tile.dataset.username || "";
      if (user) {
        // Switching person: clear a PIN typed for someone else.
        if (pin && user.value && user.value !== name) pin.value = "";
        user.value = name;
        user.dispatchEvent(new Event("change", { bubbles: true }));
      }
      markPressed(scope, tile);
      if (pin) pin.focus();
    });

    // Reflect a pre-filled username (e.g. after a wrong PIN) on the tiles.
    document.querySelectorAll(".user-tile").forEach(function (tile) {
      if (!tile.hasAttribute("aria-pressed")) tile.setAttribute("aria-pressed", "false");
    });
    document.querySelectorAll('input[name="username"]').forEach(function (user) {
      if (!user.value) return;
      const scope = user.closest("form") || document;
      const match = Array.from(scope.querySelectorAll(".user-tile")).find(function (t) {
        return t.dataset.username === user.value;
      });
      if (match) markPressed(scope, match);
    });
  }

  // ------------------------------------------------------------------
  // 9. Highlight the current nav link
  // ------------------------------------------------------------------

  function initNav() {
    document.querySelectorAll(".nav").forEach(function (nav) {
      let current = nav.querySelector('a[aria-current="page"]');

      if (!current) {
        const path = location.pathname;
        let bestLen = -1;
        nav.querySelectorAll("a[href]").forEach(function (a) {
          let url;
          try { url = new URL(a.getAttribute("href"), location.href); } catch (e) { return; }
          if (url.origin !== location.origin) return;
          const href = url.pathname;
          // Match whole path segments: /staff must not claim /staffing.
          // "/" only matches itself, otherwise Home would win every page
          // that has no nav entry of its own.
          const base = href.endsWith("/") ? href : href + "/";
          const matches = path === href || (href !== "/" && path.startsWith(base));
          if (matches && href.length > bestLen) {
            bestLen = href.length;
            current = a;
          }
        });
        if (current) current.setAttribute("aria-current", "page");
      }

      // In the narrow pill row, bring the current pill into view without
      // scrolling the page itself.
      if (current && nav.scrollWidth > nav.clientWidth) {
        const navBox = nav.getBoundingClientRect();
        const box = current.getBoundingClientRect();
        const left = nav.scrollLeft + (box.left - navBox.left) - (nav.clientWidth - box.width) / 2;
        nav.scrollLeft = Math.max(0, left);
      }
    });
  }

  // ------------------------------------------------------------------
  // 10. Background jobs: <div data-job-id> (the job_progress macro)
  //     The live "job.progress" event moves the bar; while the socket is
  //     off, /jobs/<id> is asked every 2 s instead. A finished job shows
  //     its download link, a failed one its error.
  // ------------------------------------------------------------------

  const JOB_POLL_MS = 2000;
  const JOB_LABELS = {
    queued: "Waiting to start",
    running: "Building",
    done: "Ready",
    failed: "Failed",
  };

  function initJobs() {
    const byId = new Map();
    document.querySelectorAll("[data-job-id]").forEach(function (box) {
      byId.set(box.dataset.jobId, box);
    });
    if (!byId.size) return;

    function isOver(state) { return state === "done" || state === "failed"; }

    function render(box, job) {
      const state = job.state;
      const over = isOver(state);
      box.dataset.jobState = state;
      const label = box.querySelector("[data-job-label]");
      const bar = box.querySelector("progress");
      const note = box.querySelector("[data-job-note]");
      const link = box.querySelector("[data-job-download]");
      const error = box.querySelector("[data-job-error]");
      if (label) label.textContent = JOB_LABELS[state] || state;
      if (bar) {
        bar.hidden = over;
        if (typeof job.percent === "number") {
          bar.value = job.percent;
          bar.textContent = job.percent + "%";
        } else {
          bar.removeAttribute("value"); // indeterminate until the total is known
        }
      }
      if (note) {
        note.textContent = job.note || "";
        note.hidden = over || !job.note;
      }
      if (link) link.hidden = state !== "done";
      if (error) {
        error.textContent = job.error || "";
        error.hidden = state !== "failed";
      }
      if (over && box.dataset.jobAnnounced !== state) {
        box.dataset.jobAnnounced = state;
        announce(state === "done"
          ? "Your file is ready to download."
          : "Building the file failed. " + (job.error || ""));
      }
    }

    function pending() {
      return Array.from(byId.values()).filter(function (box) {
        return !isOver(box.dataset.jobState);
      });
    }

    function poll(box) {
      return fetch(box.dataset.jobUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          // A redirect lands on the sign-in or lock page: not an answer about the job.
          if (response.redirected) throw new Error("session");
          if (response.status === 404) {
            return response.json().then(function (data) {
              return { state: "failed", error: (data && data.error) || "This file is gone." };
            });
          }
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (job) { render(box, job); })
        .catch(function () { /* the network blinked: the next tick asks again */ });
    }

    let polling = false;
    function pollAll() {
      if (polling) return;
      polling = true;
      Promise.all(pending().map(poll)).finally(function () { polling = false; });
    }

    // The socket appears once app.js's live updates connect (possibly after load).
    let heard = null;
    function listen() {
      const socket = window.physioez && window.physioez.socket;
      if (!socket || heard === socket) return;
      heard = socket;
      socket.on("job.progress", function (job) {
        const box = job && byId.get(job.job_id);
        if (box) render(box, job);
      });
      // Events sent while the socket was down are lost: catch up on every (re)connect.
      socket.on("connect", pollAll);
      pollAll();
    }

    const timer = window.setInterval(function () {
      if (!pending().length) {
        window.clearInterval(timer);
        return;
      }
      listen();
      if (!(heard && heard.connected)) pollAll();
    }, JOB_POLL_MS);
    listen();
  }

  // ------------------------------------------------------------------
  // Boot
  // ------------------------------------------------------------------

  function init() {
    const cfg = readConfig();
    // Each feature is isolated: one failing must not stop the rest.
    [
      function () { initNav(); },
      function () { initConfirm(); },
      function () { initFlashes(); },
      function () { initCopy(); },
      function () { initPin(); },
      function () { initShortcuts(cfg); },
      function () { initLive(cfg); },
      function () { initIdleLock(cfg); },
      function () { initJobs(); },
    ].forEach(function (fn) {
      try { fn(); } catch (e) {
        if (window.console) console.error("physioez:", e);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init, { once: true });
  } else {
    init();
  }
})();
