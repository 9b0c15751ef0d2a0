"""The SQL connector against real second databases (a SQLite file and a fresh PostgreSQL database)."""
import copy
from contextlib import contextmanager

import pytest

from backoffice.models.systems import SQL, DataSystem
from backoffice.services import sql_connector
from tests.systems.sites import DATASET, SUBJECT, postgres_site, rows, sqlite_site


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, tmp_path, monkeypatch):
    @contextmanager
    def chosen():
        if request.param == "sqlite":
            with sqlite_site(tmp_path) as url:
                yield url
        else:
            with postgres_site() as url:
                yield url
    with chosen() as url:
        monkeypatch.setenv("BOOKING_SITE_DB_URL", url)
        yield url


def _system(dataset=DATASET, env="BOOKING_SITE_DB_URL"):
    return DataSystem(name="Booking site", owner="Web team", kind=SQL, connection_env=env,
                      request_types=["erasure", "access"], country="KZ", dataset=copy.deepcopy(dataset))


def test_erasure_applies_each_column_action_once_and_leaves_others_alone(app, site):
    result = sql_connector.erase(_system(), SUBJECT)

    by_table = {row["table"]: row for row in result["tables"]}
    assert by_table["customers"]["found"] == 1 and by_table["customers"]["changed"] == 1
    assert by_table["customers"]["kept"] == {"loyalty_no": "Tax Code art. 48 (loyalty accrual records)"}
    assert by_table["trips"]["changed"] == 2 and by_table["newsletter"]["deleted"] == 1
    assert rows(site, "SELECT cust_id, email_addr, full_name, mobile, loyalty_no FROM customers ORDER BY cust_id") == [
        (1, "erased-1", "erased-1", None, "L-1001"),
        (2, "other@mail.kz", "Other Person", "+77029990000", "L-2002")]
    trips = rows(site, "SELECT trip_id, passenger, pnr_code FROM trips ORDER BY trip_id")
    assert [(t[0], t[1]) for t in trips] == [(10, None), (11, None), (12, "OTHER PERSON")]
    assert rows(site, "SELECT id FROM newsletter ORDER BY id") == [(101,)]

    again = sql_connector.erase(_system(), SUBJECT)  # idempotent: nothing left to find
    assert again["deleted"] == 0 and again["changed"] == 0


def test_access_reads_the_same_rows(app, site):
    data = sql_connector.read(_system(), SUBJECT)
    assert [row["email_addr"] for row in data["customers"]] == ["Zhanar.Site@mail.kz"]
    assert sorted(row["trip_id"] for row in data["trips"]) == [10, 11]
    assert [row["address"] for row in data["newsletter"]] == ["zhanar.site@mail.kz"]


def test_check_is_clean_for_a_good_dataset(app, site):
    assert sql_connector.check(_system()) == []


def test_a_dataset_naming_a_missing_column_is_reported_and_its_erasure_fails_cleanly(app, site):
    broken = copy.deepcopy(DATASET)
    broken["tables"][0]["columns"]["full_nmae"] = "null"  # the typo
    problems = sql_connector.check(_system(broken))
    assert problems == ["Table customers has no column(s): full_nmae."]
    before = rows(site, "SELECT * FROM customers ORDER BY cust_id") + rows(site, "SELECT * FROM trips ORDER BY 1")
    with pytest.raises(sql_connector.ConnectorError) as failed:
        sql_connector.erase(_system(broken), SUBJECT)
    assert "full_nmae" in str(failed.value)
    assert rows(site, "SELECT * FROM customers ORDER BY cust_id") + rows(site, "SELECT * FROM trips ORDER BY 1") == before


def test_a_statement_the_schema_refuses_rolls_the_whole_system_back(app, site):
    """full_name is NOT NULL: nulling it fails after trips were already changed; the transaction undoes both."""
    refused = copy.deepcopy(DATASET)
    refused["tables"][0]["columns"]["full_name"] = "null"
    assert any("NOT NULL" in problem for problem in sql_connector.check(_system(refused)))
    with pytest.raises(sql_connector.ConnectorError) as failed:
        sql_connector.erase(_system(refused), SUBJECT)
    assert "nothing was changed" in str(failed.value) and "zhanar" not in str(failed.value).lower()
    assert rows(site, "SELECT passenger FROM trips WHERE trip_id = 10") == [("ZHANAR SITEOVA",)]
    assert rows(site, "SELECT count(*) FROM newsletter") == [(2,)]


def test_check_reports_a_missing_table_and_an_unset_variable(app, site, monkeypatch):
    typo = copy.deepcopy(DATASET)
    typo["tables"][2]["table"] = "newsleter"
    assert sql_connector.check(_system(typo)) == ["Table newsleter does not exist."]
    assert "NOT_SET_URL" in sql_connector.check(_system(env="NOT_SET_URL"))[0]


def test_a_missing_sqlite_file_is_not_created_by_check(app, tmp_path, monkeypatch):
    target = tmp_path / "nope.db"
    monkeypatch.setenv("BOOKING_SITE_DB_URL", f"sqlite:///{target}")
    assert sql_connector.check(_system()) == ["Booking site: the SQLite file does not exist."]
    assert not target.exists()


def test_an_unreachable_postgresql_is_reported(app, monkeypatch):
    monkeypatch.setenv("BOOKING_SITE_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    problems = sql_connector.check(_system())
    assert len(problems) == 1 and "cannot connect" in problems[0]


# --- Rectification and blocking (policy 5.2; Law No. 94-V art. 1(3)) -------------------------------------------

# The client corrects the e-mail: the site still knows the old one, so both are looked up.
RECTIFIED = {"email": ["zhanar.new@mail.kz", "zhanar.site@mail.kz"], "phone": ["+77015551234"]}


def test_rectification_sets_the_mapped_columns_of_the_clients_rows_once(app, site):
    changes = {"email": "zhanar.new@mail.kz", "full_name": "Zhanar Newname", "position": "Accountant"}
    result = sql_connector.rectify(_system(), RECTIFIED, changes)

    by_table = {row["table"]: row for row in result["tables"]}
    assert by_table["customers"]["changed"] == 1 and by_table["customers"]["fields"] == ["email", "full_name"]
    assert by_table["trips"]["changed"] == 2 and by_table["trips"]["fields"] == ["full_name"]
    assert "newsletter" not in by_table  # it maps no field: untouched
    assert rows(site, "SELECT cust_id, email_addr, full_name, mobile, loyalty_no FROM customers ORDER BY cust_id") == [
        (1, "zhanar.new@mail.kz", "Zhanar Newname", "+77015551234", "L-1001"),
        (2, "other@mail.kz", "Other Person", "+77029990000", "L-2002")]
    assert rows(site, "SELECT trip_id, passenger FROM trips ORDER BY trip_id") == [
        (10, "Zhanar Newname"), (11, "Zhanar Newname"), (12, "OTHER PERSON")]
    assert rows(site, "SELECT address FROM newsletter ORDER BY id") == [("zhanar.site@mail.kz",), ("other@mail.kz",)]

    again = sql_connector.rectify(_system(), RECTIFIED, changes)  # idempotent: found again, nothing to write
    assert [(row["found"], row["changed"]) for row in again["tables"]] == [(1, 0), (2, 0)]


def test_a_rectification_the_schema_refuses_changes_nothing_in_that_system(app, site):
    """other@mail.kz is taken (UNIQUE): the trips already renamed in the same transaction are undone too."""
    with pytest.raises(sql_connector.ConnectorError) as failed:
        sql_connector.rectify(_system(), SUBJECT, {"email": "other@mail.kz", "full_name": "Zhanar Newname"})
    assert "nothing was changed" in str(failed.value) and "other@mail.kz" not in str(failed.value)
    assert rows(site, "SELECT passenger FROM trips WHERE trip_id = 10") == [("ZHANAR SITEOVA",)]
    assert rows(site, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("Zhanar.Site@mail.kz",)]


def test_blocking_sets_and_its_lifting_clears_the_block_flag(app, site):
    blocked = sql_connector.set_blocked(_system(), SUBJECT, True)
    assert blocked["tables"] == [{"table": "customers", "found": 1, "changed": 1, "deleted": 0, "kept": {},
                                  "block": "on_hold"}]
    assert rows(site, "SELECT cust_id FROM customers WHERE on_hold ORDER BY cust_id") == [(1,)]
    assert sql_connector.set_blocked(_system(), SUBJECT, True)["changed"] == 0  # idempotent

    assert sql_connector.set_blocked(_system(), SUBJECT, False)["changed"] == 1
    assert rows(site, "SELECT count(*) FROM customers WHERE on_hold") == [(0,)]


def test_check_reports_a_block_flag_or_field_column_that_cannot_hold_it(app, site):
    wrong = copy.deepcopy(DATASET)
    wrong["tables"][0]["block"] = "full_name"  # text, not yes/no
    wrong["tables"][1]["fields"] = {"full_name": "amount"}  # a number
    wrong["tables"][2]["fields"] = {"email": "adress"}  # a typo
    assert sql_connector.check(_system(wrong)) == [
        "customers.full_name is not a yes/no column: it cannot be the block flag.",
        "trips.amount is not text: it cannot hold the new value of “Full name”.",
        "Table newsletter has no column(s): adress."]
    with pytest.raises(sql_connector.ConnectorError) as failed:
        sql_connector.rectify(_system(wrong), SUBJECT, {"email": "zhanar.new@mail.kz"})
    assert "adress" in str(failed.value)
    assert rows(site, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("Zhanar.Site@mail.kz",)]
