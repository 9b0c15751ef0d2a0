/* Live status (issue 14): an element with data-status-url (a request's or an opt-out import's page) is refreshed
   from its JSON endpoint while its job runs (a <progress class="live-progress"> follows data.percent);
   when the job ends, the page reloads once to show the outcome and the next steps. No inline script (CSP). */
(function () {
  "use strict";
  // How often a page asks (LIVE_STATUS_INTERVAL_MS, 2 s by default); about 30 minutes of asking at most.
  var script = document.currentScript;
  var INTERVAL = Math.max(100, parseInt(script && script.getAttribute("data-interval-ms"), 10) || 2000);
  var MAX_POLLS = Math.ceil(1800000 / INTERVAL);
  function fingerprint(data) { return JSON.stringify(data.map ? data.map(function (j) { return [j.id, j.status]; }) : [data.status, data.step]); }
  function poll(el, url, initial, count, update) {
    if (count > MAX_POLLS) { return; }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var ended = update(el, data);
        if (ended && fingerprint(data) !== initial) { window.location.reload(); return; }
        if (!ended) { setTimeout(function () { poll(el, url, initial, count + 1, update); }, INTERVAL); }
      })
      .catch(function () { setTimeout(function () { poll(el, url, initial, count + 1, update); }, INTERVAL * 5); });
  }
  function updateRequest(el, data) {
    el.setAttribute("data-state", data.step || "");
    var text = el.querySelector(".live-text"), label = el.querySelector(".live-step");
    if (text) { text.textContent = data.message || ""; }
    if (label) { label.textContent = data.step_label || ""; }
    var status = document.getElementById("request-status");
    if (status && data.status_label) { status.textContent = data.status_label; }
    var bar = el.querySelector(".live-progress");
    if (bar && typeof data.percent === "number") { bar.value = data.percent; bar.textContent = data.percent + " %"; }
    var systems = el.querySelector(".live-systems");
    if (systems) {
      systems.textContent = (data.systems || []).map(function (s) { return s.system + ": " + s.done + "/" + s.total; }).join(" · ");
    }
    return !data.live;
  }
  function updateJobs(el, data) {
    var open = false;
    data.forEach(function (job) {
      var cell = document.querySelector('[data-job-id="' + job.id + '"] .job-state');
      if (cell && cell.getAttribute("data-state") !== job.status) {
        cell.setAttribute("data-state", job.status);
        cell.textContent = el.getAttribute("data-label-" + job.status) || job.status;
      }
      if (["queued", "started", "retrying"].indexOf(job.status) >= 0) { open = true; }
    });
    return !open;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var req = document.querySelector("[data-status-url]");
    if (req && req.getAttribute("data-live") === "1") {
      poll(req, req.getAttribute("data-status-url"), req.getAttribute("data-fingerprint"), 0, updateRequest);
    }
    var jobs = document.querySelector("[data-jobs-url]");
    if (jobs && jobs.getAttribute("data-live") === "1") {
      poll(jobs, jobs.getAttribute("data-jobs-url"), jobs.getAttribute("data-fingerprint"), 0, updateJobs);
    }
  });
})();
