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
