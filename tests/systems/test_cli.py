"""`flask systems list` and `flask systems check`: the data map from the command line; check changes nothing."""
import json

from backoffice.extensions import db
from tests.systems.sites import rows


def test_list_shows_every_system_and_flags_storage_outside_kazakhstan(app, data_map):
    result = app.test_cli_runner().invoke(args=["systems", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("#1 Back-office database [backoffice]")
    mailer = next(line for line in lines if "Mailer" in line)
    assert "outside KZ" in mailer and "art. 12" in mailer and "$MAILER_WEBHOOK_SECRET" in mailer
    assert "test-webhook-secret" not in result.output  # the secret's value never


def test_check_reports_ok_for_a_healthy_map(app, data_map):
    result = app.test_cli_runner().invoke(args=["systems", "check"])
    assert result.exit_code == 0, result.output
    assert "Booking site: ok" in result.output and "Mailer: ok" in result.output


def test_check_names_the_missing_column_and_changes_nothing(app, data_map, site_url):
    site = data_map["site"]
    broken = json.loads(json.dumps(site.dataset))
    broken["tables"][1]["columns"]["pasenger"] = "null"
    site.dataset = broken
    db.session.commit()
    before = rows(site_url, "SELECT * FROM customers") + rows(site_url, "SELECT * FROM trips")

    result = app.test_cli_runner().invoke(args=["systems", "check"])

    assert result.exit_code == 1
    assert "Booking site: FAILED" in result.output and "Table trips has no column(s): pasenger." in result.output
    assert rows(site_url, "SELECT * FROM customers") + rows(site_url, "SELECT * FROM trips") == before


def test_check_reports_an_unreachable_webhook(app, data_map, receiver):
    receiver.stop()
    result = app.test_cli_runner().invoke(args=["systems", "check"])
    assert result.exit_code == 1 and "Mailer cannot be reached" in result.output
