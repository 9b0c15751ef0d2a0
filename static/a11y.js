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

// Select2 (Flask-Admin's select widget) draws an <a class="select2-choice"> with no name in place of the <select>:
// give it the label of the field it replaces (WCAG 4.1.2, axe "link-name").
(function () {
  function nameChoices() {
    document.querySelectorAll('.select2-container').forEach(function (box) {
      var link = box.querySelector('.select2-choice');
      var id = (box.id || '').replace(/^s2id_/, '');
      var label = id ? document.querySelector('label[for="' + id + '"]') : null;
      if (link && label && !link.getAttribute('aria-label')) {
        link.setAttribute('aria-label', label.textContent.replace('*', '').trim());
      }
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    nameChoices();
    if (window.MutationObserver) {
      new MutationObserver(nameChoices).observe(document.body, {childList: true, subtree: true});
    }
  });
  window.addEventListener('load', nameChoices);
})();
