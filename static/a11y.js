// Flask-Admin's filters.js builds the filter rows without labels; name each value field and operator after its
// filter (the row's first cell), for screen readers (WCAG 1.3.1, 4.1.2). A static file: nothing a CSP must allow.
(function () {
  function name(root) {
    root.querySelectorAll('.filters tr').forEach(function (row) {
      var title = (row.cells[0] ? row.cells[0].textContent : '').replace('\u00d7', '').trim();
      row.querySelectorAll('.filter-val, .filter-op, select, input').forEach(function (field) {
        if (!field.getAttribute('aria-label') && !field.labels?.length) { field.setAttribute('aria-label', title); }
      });
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    name(document);
    var table = document.querySelector('.filters');
    if (table && window.MutationObserver) {
      new MutationObserver(function () { name(document); }).observe(table, {childList: true, subtree: true});
    }
  });
})();
