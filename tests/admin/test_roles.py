"""Role × endpoint: every URL rule of the app, for every role and for anonymous users, follows the matrix."""
import pytest

from backoffice.models.staff import ROLES

ANONYMOUS = "anonymous"
SUPPORT, MANAGER, SUPERVISOR, ADMIN = "support", "manager", "supervisor", "admin"
EVERYONE = set(ROLES)

# The permission matrix of issue 2, written out independently of backoffice.permissions.
# endpoint prefix → (roles that may read, roles that may write)
AREAS = {
    "admin": (EVERYONE, set()),
    "requests": ({SUPPORT, MANAGER, SUPERVISOR}, {SUPPORT, MANAGER}),
    "clients": ({SUPPORT, MANAGER, SUPERVISOR}, set()),
    "optouts": ({SUPPORT, MANAGER, SUPERVISOR}, {SUPPORT, MANAGER}),
    # Supervisors' only POST is the chain check (audit.verify_view); create/edit/delete are not OFFERED.
    "audit": ({SUPERVISOR}, {SUPERVISOR}),
    "staff": ({ADMIN}, {ADMIN}),
    "deadlines": ({ADMIN}, {ADMIN}),
    "jobs": ({MANAGER, SUPERVISOR}, {MANAGER}),
    "certificates": ({MANAGER, SUPERVISOR}, set()),
    "statistics": ({MANAGER, SUPERVISOR}, set()),  # aggregated, depersonalised (policy 3.2.3)
    "exports": ({SUPPORT, MANAGER}, set()),  # export packages hold everything about a client: no supervisor download
    "integrations": ({ADMIN}, {ADMIN}),
    # [mail] issue 12: received messages and letters for those who handle requests; templates for the admin.
    "mail": ({SUPPORT, MANAGER}, {SUPPORT, MANAGER}),
    "letters": ({SUPPORT, MANAGER}, {SUPPORT, MANAGER}),
    "letter_templates": ({ADMIN}, {ADMIN}),
    # Second sign-in step (sends anyone without a pending sign-in back to /login) and one's own account.
    "auth": (EVERYONE, EVERYONE),
    "account": (EVERYONE, EVERYONE),
    # issue 15 (compliance)
    "breaches": ({MANAGER, SUPERVISOR}, {MANAGER, SUPERVISOR}),
    "breach_report": ({SUPPORT, MANAGER, SUPERVISOR}, {SUPPORT, MANAGER, SUPERVISOR}),
    "disclosures": ({SUPPORT, MANAGER, SUPERVISOR}, {SUPPORT, MANAGER}),
    "retention": ({MANAGER, SUPERVISOR, ADMIN}, {ADMIN}),
    "retention_runs": ({MANAGER, SUPERVISOR}, {MANAGER}),
    "dormant": ({MANAGER, SUPERVISOR}, {MANAGER}),
    "notices": ({SUPPORT, MANAGER, SUPERVISOR, ADMIN}, {ADMIN}),
    "consent_record": ({SUPPORT, MANAGER}, {SUPPORT, MANAGER}),
    "register": ({MANAGER, SUPERVISOR, ADMIN}, {ADMIN}),
    "systems": ({ADMIN}, {ADMIN}),  # the data map (issue 11)
    "systemtasks": ({SUPPORT, MANAGER}, {SUPPORT, MANAGER}),  # a request's per-system tasks
}
# Flask-Admin endpoints that change data, and whether the view offers that capability at all.
WRITE_METHODS = {"create_view", "edit_view", "delete_view", "action_view", "ajax_update"}
OFFERED = {
    ("staff", "create_view"), ("staff", "edit_view"), ("staff", "ajax_update"),
    ("requests", "create_view"), ("deadlines", "edit_view"), ("deadlines", "ajax_update"),
    ("optouts", "create_view"), ("retention", "edit_view"), ("retention", "ajax_update"),
    ("notices", "create_view"),
    ("systems", "create_view"), ("systems", "edit_view"), ("systems", "delete_view"), ("systems", "ajax_update"),
}
# Pages only a manager may use (recording that a system cannot comply, retrying one system, writing to every client
# a breach concerned: its confirmation page and the action).
MANAGER_PAGES = {("systemtasks", "cannot_view"), ("systemtasks", "retry_view"), ("breaches", "notify_view")}
# Custom pages that change data or handle recipients' data: writers only, on GET as well as POST.
WRITE_PAGES = {
    ("optouts", "remove_view"), ("optouts", "import_view"), ("optouts", "scrub_view"),
    ("optouts", "import_status_view"), ("optouts", "import_status_json"),  # an import's page and its JSON
    ("optouts", "scrub_columns_view"), ("optouts", "scrub_progress_view"), ("optouts", "scrub_download_view"), ("optouts", "export_hashes_view"),
    ("optouts", "export_hashes_download_view"),
    ("integrations", "new_token_view"), ("integrations", "revoke_view"),
    ("disclosures", "new_view"), ("disclosures", "log_view"),
}
# Decisions on a page of requests: managers only (issue 14).
APPROVER_PAGES = {("requests", "bulk_decide_view")}
# Reads that are POSTed so that the search term stays out of URLs: every reader of the area.
READ_POSTS = {("requests", "search_view")}
# The JSON API authenticates integrations by bearer token only: a staff session opens nothing there.
API_PREFIX = "api."
READ_ONLY_EXTRAS = {"export"}  # Flask-Admin's built-in export is switched off everywhere (it loads whole tables)
PUBLIC = {"auth.login", "auth.set_language", "auth.root", "static", "admin.static", "_debug_toolbar.static",
          "download.page"}  # [mail] issue 12: the clients' export download page (token + one-time code)


def expected_allowed(endpoint, method, role):
    area, _, name = endpoint.partition(".")
    if area not in AREAS:
        raise AssertionError(f"endpoint {endpoint} is not in the role matrix test: add it")
    readers, writers = AREAS[area]
    if (area, name) in MANAGER_PAGES:
        return role == MANAGER
    if (area, name) in WRITE_PAGES:
        return role in writers
    if (area, name) in APPROVER_PAGES:
        return role == MANAGER
    if (area, name) in READ_POSTS:
        return role in readers
    if name in READ_ONLY_EXTRAS:
        return False
    if name in WRITE_METHODS:
        if name == "action_view":
            return False  # no action is named in the probe request, so nothing may run
        return (area, name) in OFFERED and role in writers
    if name == "search_view":
        return role in readers  # a list's search box posts its term (so that no URL holds it): a read
    if method == "POST" and area != "admin":
        return role in writers
    return role in readers


def _rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.endswith(".static"):
            continue
        for method in ("GET", "POST"):
            if method in rule.methods:
                yield rule, method


def _url(rule):
    values = {arg: "csv" if arg == "export_type" else "1" for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
def test_every_endpoint_follows_the_matrix(app, client, login_as, role):
    if role != ANONYMOUS:
        login_as(role)
    checked = 0
    for rule, method in _rules(app):
        if rule.endpoint == "auth.logout":
            continue
        url = _url(rule)
        response = client.open(url, method=method, data={})
        where = f"{role} {method} {url} ({rule.endpoint}) → {response.status_code}"
        assert response.status_code != 500, where
        if rule.endpoint.startswith(API_PREFIX):
            assert response.status_code == 401, where
        elif role == ANONYMOUS:
            assert response.status_code in (302, 401), where
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], where
        elif expected_allowed(rule.endpoint, method, role):
            assert response.status_code != 403, where
        else:
            assert response.status_code == 403, where
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("role,visible,hidden", [
    (SUPPORT, ["Requests", "Clients", "Marketing opt-outs"], ["Audit log", "Staff", "Deadline rules"]),
    (MANAGER, ["Requests", "Clients", "Marketing opt-outs"], ["Audit log", "Staff"]),
    (SUPERVISOR, ["Requests", "Clients", "Audit log"], ["Staff", "Integration tokens"]),
    (ADMIN, ["Staff", "Deadline rules", "Integration tokens"], ["Requests", "Clients", "Audit log", "Marketing opt-outs"]),
])
def test_menu_shows_only_what_the_role_may_use(client, login_as, role, visible, hidden):
    login_as(role)
    page = client.get("/admin/").get_data(as_text=True)
    nav = page[page.index("<nav"):page.index("</nav>")]
    for name in visible:
        assert f">{name}<" in nav.replace("\n", "").replace("  ", ""), name
    for name in hidden:
        assert name not in nav, name


def test_403_page_explains(client, login_as):
    login_as(SUPPORT)
    response = client.get("/admin/audit/")
    assert response.status_code == 403
    assert "Your role does not allow" in response.get_data(as_text=True)


def test_user_with_several_roles_gets_the_union(client, login_as):
    login_as(SUPPORT, SUPERVISOR)
    assert client.get("/admin/audit/").status_code == 200
    assert client.get("/admin/clients/").status_code == 200
    assert client.get("/admin/staff/").status_code == 403
