"""The access package (policy 5.4): everything about the client, nothing about anyone else, and it expires."""
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import ExportPackage
from backoffice.models.requests import COMPLETED, PrivacyRequest
from backoffice.services import export
from tests.jobfactories import approved_request, seeded_client


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def _open(package):
    with zipfile.ZipFile(package.path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_package_holds_every_seeded_datum_of_the_client_and_nothing_of_others(app, manager):
    client, strings = seeded_client("mine", 11)
    client.preferred_language = "kk"
    db.session.commit()
    other, other_strings = seeded_client("theirs", 22, phone="+7 702 444 55 66")
    request = approved_request(client, "access", by=manager, requester_name=f"Asker {strings[-1]}",
                               description=f"What do you hold, {strings[-1]}?")

    result = export.build_export(request.id, job_id="job-x")

    package = db.session.get(ExportPackage, result["package_id"])
    files = _open(package)
    assert {"data.json", "summary.html", "client.csv", "booking.csv", "communication.csv", "consent.csv",
            "client_account.csv", "privacy_request.csv", "marketing_opt_out.csv"} <= set(files)
    everything = b"".join(files.values()).decode("utf-8-sig", errors="replace")
    data = json.loads(files["data.json"])
    data_text = json.dumps(data, ensure_ascii=False)
    for value in strings + [f"Asker {strings[-1]}"]:
        assert value in data_text, value
    for value in other_strings:
        assert value not in everything, value
    categories = data["categories"]
    assert len(categories["bookings"]) == 2 and categories["identity"][0]["iin"] == client.iin
    assert all("source" in item for items in categories.values() for item in items)
    bookings = list(csv.DictReader(io.StringIO(files["booking.csv"].decode("utf-8-sig"))))
    assert {row["passenger_name"] for row in bookings} == {strings[0]}
    # Formula-like cells are neutralised for spreadsheets; the phone is still readable.
    clients = list(csv.DictReader(io.StringIO(files["client.csv"].decode("utf-8-sig"))))
    assert clients[0]["phone"] == "'+7 701 555 12 34"
    summary = files["summary.html"].decode()
    assert '<html lang="kk">' in summary and "3.2.3" in summary and "5.4" in summary and "4.2" in summary
    assert package.sha256 == hashlib.sha256(open(package.path, "rb").read()).hexdigest()
    assert package.size > 0 and package.expires_at - package.created_at == dt.timedelta(days=7)
    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED and package.sha256 in done.outcome
    assert str(package.path).startswith(app.config["EXPORT_DIR"])


def test_second_run_is_a_noop(app, manager):
    client, _ = seeded_client("again", 33)
    request = approved_request(client, "access", by=manager)
    export.build_export(request.id)
    assert export.build_export(request.id)["noop"] is True
    assert len(db.session.execute(select(ExportPackage)).scalars().all()) == 1


def test_expired_packages_are_gone_after_cleanup(app, manager, tmp_path):
    client, _ = seeded_client("old", 44)
    request = approved_request(client, "access", by=manager)
    package = db.session.get(ExportPackage, export.build_export(request.id)["package_id"])
    path = package.path
    assert export.cleanup_expired()["expired"] == 0
    result = export.cleanup_expired(now=package.expires_at + dt.timedelta(seconds=1))
    assert result["expired"] == 1
    package = db.session.get(ExportPackage, package.id)
    assert package.deleted_at is not None and export.package_for_download(package.id) is None
    import os

    assert not os.path.exists(path)
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "export.expired")).scalar_one()


def test_stray_files_are_removed_but_fresh_ones_kept(app):
    directory = export.export_dir()
    stray = directory / "request-9-crashed.zip.part"
    stray.write_bytes(b"x")
    assert export.cleanup_expired(orphan_min_age=dt.timedelta(hours=1))["orphans"] == 0
    assert export.cleanup_expired(now=dt.datetime.utcnow() + dt.timedelta(hours=2))["orphans"] == 1
    assert not stray.exists()


def _grant_for(client):
    from backoffice.models.disclosures import DisclosureGrant

    grant = DisclosureGrant(client_id=client.id, recipient="Daniyar Seitkali (brother)",
                            scope="bookings of 2026", expires_on=dt.date(2030, 1, 1))
    db.session.add(grant)
    db.session.commit()
    return grant


def test_package_has_a_disclosure_register_category_in_json_csv_and_summary(app, manager):
    client, _ = seeded_client("disclosed", 31)
    client.preferred_language = "en"
    _grant_for(client)
    request = approved_request(client, "access", by=manager)

    result = export.build_export(request.id)

    files = _open(db.session.get(ExportPackage, result["package_id"]))
    disclosures = json.loads(files["data.json"])["categories"]["disclosures"]
    assert [(d["recipient"], d["scope"], d["expires_on"]) for d in disclosures] == [
        ("Daniyar Seitkali (brother)", "bookings of 2026", "2030-01-01")]
    assert disclosures[0]["source"] == "disclosure_register"
    rows = list(csv.DictReader(io.StringIO(files["disclosure_grant.csv"].decode("utf-8-sig"))))
    assert rows[0]["recipient"] == "Daniyar Seitkali (brother)"
    assert result["counts"]["disclosures"] == 1
    summary = files["summary.html"].decode()
    assert "Disclosures to third parties" in summary and "1 disclosure to a person you named" in summary


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_kazakh_and_russian_summaries_have_no_english_words(app, manager, language):
    """Every word the client reads is in their language: categories, record types and legal references too."""
    import re

    client, _ = seeded_client("lang", 32)
    client.preferred_language = language
    _grant_for(client)
    db.session.commit()
    request = approved_request(client, "access", by=manager)
    result = export.build_export(request.id)
    summary = _open(db.session.get(ExportPackage, result["package_id"]))["summary.html"].decode()
    body = re.sub(r"<style\b.*?</style>", "", summary, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", body)
    # File names and formats, the literal data.json key to look under, the brand and the time zone are the same in
    # every language. HMAC is the name of a standard algorithm (like SHA-256), not an English word: the opt-out
    # legal reference says the refusal is kept as keyed hashes (HMAC).
    allowed = {"data", "json", "csv", "CSV", "disclosure_grant", "disclosures", "Bek", "Air", "UTC", "ZIP", "HMAC"}
    english = [word for word in re.findall(r"[A-Za-z_]{2,}", visible) if word not in allowed
               and not re.fullmatch(r"[IVX]+", word)]
    assert english == [], english
