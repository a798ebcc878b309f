// Progressive enhancement: the goal page reads its live state every few seconds and updates the
// status, phase, cost and task rows in place (no reload, no flicker). Without JavaScript the
// page is complete as served; reload to see changes.
(function () {
  "use strict";
  var POLL_MS = 2000;

  function setText(root, selector, value) {
    var el = root.querySelector(selector);
    if (el && el.textContent !== String(value)) { el.textContent = String(value); }
  }

  function setStatus(el, value) {
    if (!el || el.textContent === value) { return; }
    el.textContent = value;
    el.className = "status status-" + value;
  }

  function apply(goal, state) {
    setStatus(goal.querySelector('[data-field="status"]'), state.status);
    setText(goal, '[data-field="reason"]', state.reason);
    setText(goal, '[data-field="phase"]', state.phase);
    setText(goal, '[data-field="cost_usd"]', state.cost_usd);
    state.tasks.forEach(function (task) {
      var row = goal.querySelector('tr[data-task="' + task.id + '"]');
      if (!row) { return; }
      setStatus(row.querySelector('[data-task-field="status"]'), task.status);
      setText(row, '[data-task-field="revision"]', task.revision);
      setText(row, '[data-task-field="cost_usd"]', task.cost_usd);
    });
    if (String(state.documents) !== goal.getAttribute("data-documents")) {
      var fresh = document.getElementById("fresh");
      if (fresh) { fresh.hidden = false; }
    }
    // The actions served with the page follow the goal: nothing to cancel once it has ended,
    // and the queue is where a goal that waits for a person is decided.
    var cancel = goal.querySelector("form[data-action='cancel']");
    if (cancel && state.final) { cancel.hidden = true; }
    var queue = document.getElementById("queue-link");
    if (queue && state.waiting) { queue.hidden = false; }
  }

  function poll(goal) {
    var url = goal.getAttribute("data-live");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        apply(goal, state);
        if (!state.settled) { window.setTimeout(function () { poll(goal); }, POLL_MS); }
      })
      .catch(function () { window.setTimeout(function () { poll(goal); }, POLL_MS * 3); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var goal = document.getElementById("goal");
    if (!goal || !window.fetch) { return; }
    // A settled goal changes only when someone acts; a paused one may be resumed elsewhere.
    window.setTimeout(function () { poll(goal); }, POLL_MS);
  });
})();
