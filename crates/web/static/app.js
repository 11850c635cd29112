// Trellis progressive enhancement. Every page works without this file; with it, check-in rows
// clear and disable the minutes box when the status chosen does not use minutes.
(function () {
  'use strict';
  var USES_MINUTES = { late: true, left_early: true };

  function syncRow(row) {
    var box = row.querySelector('input[data-minutes]');
    var chosen = row.querySelector('input[type=radio]:checked');
    if (!box || !chosen) return;
    var uses = USES_MINUTES[chosen.value] === true;
    if (!uses) box.value = '';
    box.disabled = !uses;
  }

  function syncAll(root) {
    root.querySelectorAll('[data-roster-row]').forEach(syncRow);
  }

  document.addEventListener('change', function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== 'radio') return;
    var row = input.closest('[data-roster-row]');
    if (!row) return;
    syncRow(row);
    var box = row.querySelector('input[data-minutes]');
    if (box && !box.disabled) box.focus();
  });

  document.addEventListener('DOMContentLoaded', function () { syncAll(document); });
  document.addEventListener('htmx:load', function (event) { syncAll(event.target); });
})();
