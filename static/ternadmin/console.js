/* ternadmin console: self-refreshing pages with a pause toggle, and fragments loaded after
 * the page (what the engine says now). No framework: fetch() and innerHTML of our own
 * server-rendered fragments.
 *
 * A region marked data-refresh-url is re-fetched every data-refresh-seconds. Refreshing
 * pauses while the operator is selecting or typing in it (a checked box, a focused field),
 * while the tab is hidden, and when the Pause button says so (remembered in this browser).
 */
(function () {
  "use strict";

  var PAUSE_KEY = "ternadmin.refresh.paused";

  function loadFragment(box, previous) {
    var url = box.getAttribute("data-load-url");
    if (previous && previous[url]) {
      box.innerHTML = previous[url];
      bindReload(box);
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        box.setAttribute("data-loaded", "1");
        bindReload(box);
      })
      .catch(function (error) {
        box.textContent = "Could not load: " + error.message;
      });
  }

  function bindReload(box) {
    var button = box.querySelector("[data-reload]");
    if (button) {
      button.addEventListener("click", function () {
        box.removeAttribute("data-loaded");
        loadFragment(box, null);
      });
    }
  }

  function loadFragments(root, previous) {
    root.querySelectorAll("[data-load-url]").forEach(function (box) {
      loadFragment(box, previous);
    });
  }

  function loadedFragments(root) {
    var kept = {};
    root.querySelectorAll("[data-load-url][data-loaded]").forEach(function (box) {
      kept[box.getAttribute("data-load-url")] = box.innerHTML;
    });
    return kept;
  }

  function setUp(region) {
    var seconds = parseInt(region.getAttribute("data-refresh-seconds"), 10);
    var toggle = document.querySelector("[data-refresh-toggle]");
    var status = document.querySelector("[data-refresh-status]");
    var lastUpdate = Date.now();
    var failure = "";

    function paused() {
      return window.localStorage.getItem(PAUSE_KEY) === "1";
    }

    function busy() {
      var active = document.activeElement;
      var typing = active && region.contains(active) && active.matches("input, select, textarea");
      return typing || region.querySelector("input[type=checkbox]:checked") !== null;
    }

    function showStatus() {
      if (!status) return;
      var age = Math.round((Date.now() - lastUpdate) / 1000);
      var text = failure ? failure : "Updated " + age + " s ago";
      if (paused()) text += " · paused";
      else if (busy()) text += " · waiting while you select";
      status.textContent = text;
      if (toggle) {
        toggle.textContent = paused() ? "Resume" : "Pause";
        toggle.setAttribute("aria-pressed", paused() ? "true" : "false");
      }
    }

    function refresh() {
      if (paused() || busy() || document.hidden) return;
      fetch(region.getAttribute("data-refresh-url"), {
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      })
        .then(function (response) {
          if (response.redirected) throw new Error("your session ended: reload the page");
          if (!response.ok) throw new Error("refresh failed (HTTP " + response.status + ")");
          return response.text();
        })
        .then(function (html) {
          if (paused() || busy()) return;
          var kept = loadedFragments(region);
          region.innerHTML = html;
          loadFragments(region, kept);
          lastUpdate = Date.now();
          failure = "";
        })
        .catch(function (error) {
          failure = error.message === "Failed to fetch" ? "offline: retrying" : error.message;
        })
        .then(showStatus);
    }

    if (toggle) {
      toggle.addEventListener("click", function () {
        window.localStorage.setItem(PAUSE_KEY, paused() ? "0" : "1");
        showStatus();
        if (!paused()) refresh();
      });
    }
    region.addEventListener("change", showStatus);
    window.setInterval(refresh, seconds * 1000);
    window.setInterval(showStatus, 1000);
    showStatus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadFragments(document, null);
    var region = document.querySelector("[data-refresh-url]");
    if (region && parseInt(region.getAttribute("data-refresh-seconds"), 10) > 0) setUp(region);
  });
})();
