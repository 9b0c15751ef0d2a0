/* The request form shows only the detail fields that matter for the chosen type (all are still validated on the
   server). Moved out of the template: no inline script under the CSP. */
(function () {
  "use strict";
  var groups = {
    rectification: ["new_full_name", "new_email", "new_phone", "new_iin", "new_position", "new_date_of_birth",
                    "new_preferred_language"],
    blocking: ["blocked_until"],
    third_party_grant: ["recipient", "scope", "expires_on"],
    marketing_opt_out: ["opt_out_channel"]
  };
  var all = [];
  Object.keys(groups).forEach(function (k) { all = all.concat(groups[k]); });
  function update() {
    var type = document.getElementById("type");
    if (!type) { return; }
    var chosen = groups[type.value] || [];
    all.forEach(function (id) {
      var input = document.getElementById(id);
      var group = input && input.closest(".form-group");
      if (group) { group.style.display = chosen.indexOf(id) >= 0 ? "" : "none"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var type = document.getElementById("type");
    if (type) { type.addEventListener("change", update); update(); }
  });
})();
