"""Campaign-list scrub (policy 3.2.2): exactly the right rows go, each counted under its reason."""
import json
import csv
import io
import os
import random
import threading
import time

import pytest
from flask_babel import force_locale

from backoffice.extensions import db
from backoffice.identifiers import InvalidIdentifier, normalise_email, normalise_phone
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import BLOCKED, ERASED
from backoffice.services import consents, optouts, scrub, scrub_runs, scrub_uploads
from tests.factories import make_client


def full(normaliser, value):
    try:
        return normaliser(value)
    except InvalidIdentifier:
        return None


def test_fast_email_key_agrees_with_the_full_normaliser(app):
    rng = random.Random(5)
    samples = ["Anna.Petrova@Mail.KZ", " x@y.kz ", "a..b@mail.kz", ".a@mail.kz", "a@mail", "a@-mail.kz",
               "a@mail.local", "a@xn--80ak6aa92e.com", "Ärger@mail.kz", "a@почта.kz", "a+tag@gmail.com",
               "a@b.c", "a@1.2.3.4", "", "@mail.kz", "a@", "a b@mail.kz", "x" * 65 + "@mail.kz",
               "a@" + "b" * 64 + ".kz", "o'neil@mail.kz", '"q"@mail.kz', "a@mail.test", "a@mail.kz.", "\u212a@mail.kz", "ANNA@MAİL.KZ"]
    alphabet = "abcXYZ09.-_+@'"
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(3, 14))) + rng.choice(["", ".kz", ".com"])
                for _ in range(3000)]
    with force_locale("en"):
        for value in samples:
            expected = full(normalise_email, value)
            assert scrub.email_key(value) == expected, value


def test_fast_phone_key_agrees_with_the_full_normaliser_for_every_valid_number(app):
    rng = random.Random(9)
    samples = ["+7 701 555 12 34", "8 (701) 555-12-34", "87015551234", "+77015551234", "7015551234",
               "+7 800 555 35 35", "88005553535", "+7 495 123 45 67", "+7 727 258 00 00", "+44 20 7946 0958",
               "", "12", "+7 701 555 12 34 5", "+7 (999) 000-00-00", "8 000 000 00 00"]
    samples += [rng.choice(["+7", "8"]) + "".join(rng.choice("0123456789") for _ in range(10)) for _ in range(4000)]
    with force_locale("en"):
        for value in samples:
            expected = full(normalise_phone, value)
            got = scrub.phone_key(value)
            if expected is not None:
                assert got == expected, value
            else:
                # An invalid number may pass the fast path only in a known-valid prefix; it then matches nothing.
                assert got is None or got[:8] in scrub._phone_valid_prefix, value


def _run(text, email_column=None, phone_column=None, channel="email", batch_size=2):
    out = io.StringIO()
    result = scrub.scrub_rows(csv.reader(io.StringIO(text)), csv.writer(out, lineterminator="\n"),
                              email_column, phone_column, channel, batch_size=batch_size)
    return result, out.getvalue()


@pytest.fixture
def people(app):
    """Clients in every situation a campaign list can meet."""
    people = {
        "ok": make_client(email="ok@mail.kz", phone="+7 701 000 00 01"),
        "ok_phone_only": make_client(email="okp@mail.kz", phone="+7 701 000 00 02"),
        "no_consent": make_client(email="nc@mail.kz", phone="+7 701 000 00 03", consents=("identification",)),
        "blocked": make_client(email="bl@mail.kz", phone="+7 701 000 00 04", status=BLOCKED),
        "opted_out": make_client(email="oo@mail.kz", phone="+7 701 000 00 05"),
        "sms_only_opt_out": make_client(email="sms@mail.kz", phone="+7 701 000 00 06"),
        "erased": make_client(email="er@mail.kz", phone="+7 701 000 00 07"),
        "withdrew": make_client(email="wd@mail.kz", phone="+7 701 000 00 08"),
    }
    optouts.add_opt_out("oo@mail.kz", None, "email")
    optouts.add_opt_out(None, "+77010000006", "sms")
    optouts.add_opt_out("er@mail.kz", "+77010000007", "all", source="privacy_request")
    consents.withdraw_consent(people["withdrew"], "marketing", source="form")
    erased = people["erased"]
    for name in ("full_name", "name_key", "email", "email_norm", "phone", "phone_e164", "iin"):
        setattr(erased, name, None)
    erased.status = ERASED
    db.session.commit()
    return people


LIST = """name,e-mail,mobile,note
Ok,OK@mail.kz,,"keeps, quoted"
Blocked,bl@mail.kz,,
Opted out,oo@mail.kz,,
SMS only opt-out,sms@mail.kz,,
Erased,er@mail.kz,,
Unknown,stranger@mail.kz,,
No consent,nc@mail.kz,,
Withdrew,wd@mail.kz,,
Bad,not-an-address,,
Empty,,,
Ok again,ok@mail.kz,,
"""


def test_scrub_removes_exactly_the_right_rows_with_reasons(people):
    result, output = _run(LIST, email_column=1, channel="email")
    kept = list(csv.reader(io.StringIO(output)))
    assert kept[0] == ["name", "e-mail", "mobile", "note"]
    assert [row[0] for row in kept[1:]] == ["Ok", "SMS only opt-out", "Ok again"]
    assert kept[1] == ["Ok", "OK@mail.kz", "", "keeps, quoted"]  # rows are copied as they were
    assert result.rows == 11 and result.kept == 3
    assert dict(result.removed) == {"blocked": 1, "opted_out": 1, "erased": 1, "no_marketing_consent": 3,
                                    "no_valid_address": 2}


def test_scrub_by_phone_for_an_sms_campaign_uses_sms_opt_outs(people):
    text = "name;phone\nOk;8 701 000 00 01\nSMS only;+7 701 000 00 06\nErased;+77010000007\nOpted out email only;" \
           "+7 701 000 00 05\n"
    out = io.StringIO()
    result = scrub.scrub_rows(csv.reader(io.StringIO(text), delimiter=";"), csv.writer(out, lineterminator="\n"),
                              None, 1, "sms")
    assert [row[0] for row in csv.reader(io.StringIO(out.getvalue()))] == ["name", "Ok", "Opted out email only"]
    assert dict(result.removed) == {"opted_out": 1, "erased": 1}


def test_scrub_with_both_columns_removes_a_row_if_either_address_must_not_be_reached(people):
    text = "email,phone\nok@mail.kz,+77010000004\nstranger@mail.kz,+77010000002\n"
    result, output = _run(text, email_column=0, phone_column=1, channel="email")
    assert output.splitlines()[1:] == ["stranger@mail.kz,+77010000002"]
    assert dict(result.removed) == {"blocked": 1}


def test_scrub_needs_a_column_and_a_channel(app):
    with pytest.raises(scrub.ScrubError):
        _run("a\n", None, None)
    with pytest.raises(scrub.ScrubError):
        _run("a\n", 0, None, channel="fax")


class Upload:
    def __init__(self, data):
        self.data = data

    def save(self, path):
        with open(path, "wb") as handle:
            handle.write(self.data)


def test_uploaded_file_is_kept_under_a_random_id_and_deleted_after_download(people):
    upload_id = scrub_uploads.store_upload(Upload(LIST.replace(",", ";").encode("utf-8-sig")))
    assert scrub_uploads.header(upload_id) == ["name", "e-mail", "mobile", "note"]
    result = scrub_uploads.run_scrub(upload_id, 1, None, "email")
    db.session.commit()
    assert not scrub_uploads.input_path(upload_id).exists()
    assert scrub_uploads.summary(upload_id).kept == result.kept == 3
    size, chunks = scrub_uploads.open_download(upload_id)
    body = b"".join(chunks).decode()
    assert size == len(body.encode())
    assert body.splitlines()[0] == "name;e-mail;mobile;note"
    assert len(body.splitlines()) == 4
    assert list(scrub_uploads.scrub_folder().iterdir()) == []
    event = db.session.query(AuditEvent).filter_by(action="optout.scrub").one()
    assert "mail.kz" not in event.details and json.loads(event.details)["kept"] == 3


@pytest.fixture
def reachable(app):
    """Clients a campaign may reach: their rows stay in the scrubbed file."""
    for i in range(20):
        make_client(email=f"person{i}@mail.kz", phone=None)
    db.session.commit()


def _scrubbed():
    text = "email;name\n" + "".join(f"person{i}@mail.kz;Person {i}\n" for i in range(20))
    upload_id = scrub_uploads.store_upload(Upload(text.encode()))
    scrub_runs._write_state(upload_id, state=scrub_runs.DONE, rows=0, fraction=1.0)  # the job's state file
    scrub_uploads.run_scrub(upload_id, 0, None, "email")
    db.session.commit()
    return upload_id


def _files(upload_id):
    return sorted(p.name for p in scrub_uploads.scrub_folder().glob(f"{upload_id}.*"))


def test_a_download_sent_after_the_request_ended_completes_and_leaves_nothing(reachable):
    """Servers send the body after the request's app context is gone (werkzeug, gunicorn): nothing may need it."""
    upload_id = _scrubbed()
    expected = scrub_uploads.output_path(upload_id).read_bytes()
    assert len(_files(upload_id)) == 3  # output, counts, job state
    size, chunks = scrub_uploads.open_download(upload_id, chunk_size=100)
    received, errors = [], []

    def server():
        try:
            received.extend(chunks)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    thread = threading.Thread(target=server)
    thread.start()
    thread.join()
    assert errors == []
    assert b"".join(received) == expected and size == len(expected) and len(received) > 1
    assert _files(upload_id) == []


def test_a_download_cut_off_half_way_keeps_the_file_for_another_try(reachable):
    upload_id = _scrubbed()
    expected = scrub_uploads.output_path(upload_id).read_bytes()
    size, chunks = scrub_uploads.open_download(upload_id, chunk_size=100)
    next(chunks)
    chunks.close()  # the browser went away: the server closes the body
    assert len(_files(upload_id)) == 3
    size, chunks = scrub_uploads.open_download(upload_id)
    assert b"".join(chunks) == expected
    assert _files(upload_id) == []


def _age(upload_id, seconds, now):
    for name in _files(upload_id):
        os.utime(scrub_uploads.scrub_folder() / name, (now - seconds, now - seconds))


def test_stale_uploads_are_purged_whole_and_fresh_ones_kept(app):
    app.config["SCRUB_FILE_TTL_MINUTES"] = 60
    now = time.time()
    abandoned, running, fresh = _scrubbed(), _scrubbed(), _scrubbed()
    for upload_id, minutes in ((abandoned, 61), (running, 61), (fresh, 59)):
        _age(upload_id, minutes * 60, now)
    os.utime(scrub_runs.state_path(running), (now - 5, now - 5))  # its job wrote progress just now
    assert scrub_uploads.purge_stale(now=now) == {"purged": 1}
    assert _files(abandoned) == []
    assert len(_files(running)) == 3 and len(_files(fresh)) == 3
    app.config["SCRUB_FILE_TTL_MINUTES"] = 1
    assert scrub_uploads.purge_stale(now=now) == {"purged": 1}  # the fresh one, now past a shorter age
    assert len(_files(running)) == 3


def test_the_purge_is_a_periodic_job(app):
    from backoffice.jobs import schedule
    from backoffice.jobs.scrub import purge_scrub_files

    job = next(j for j in schedule.PERIODIC_JOBS if j.id == "purge-scrub-files")
    assert job.func == "backoffice.jobs.scrub.purge_scrub_files" and job.interval(app.config) == 600
    kept, upload_id = _scrubbed(), _scrubbed()
    _age(upload_id, app.config["SCRUB_FILE_TTL_MINUTES"] * 60 + 5, time.time())
    assert purge_scrub_files() == {"purged": 1}
    assert _files(upload_id) == [] and len(_files(kept)) == 3


def test_upload_ids_cannot_name_other_files(app):
    for bad in ("../secret_key", "abc", "0" * 31 + "/", None):
        with pytest.raises(scrub.ScrubError):
            scrub_uploads.input_path(bad)


def test_a_file_that_is_not_utf8_is_refused_and_removed(app):
    with pytest.raises(scrub.ScrubError):
        scrub_uploads.store_upload(Upload("имя;почта\n".encode("cp1251")))
    assert list(scrub_uploads.scrub_folder().iterdir()) == []


def test_scrub_in_worker_processes_gives_the_same_file_as_in_process(app):
    """processes=2 (the job's default on a 2-core worker) keeps exactly the rows, in order, that one process keeps."""
    make_client(email="keep1@mail.kz", phone="+7 701 555 00 01")
    make_client(email="keep2@mail.kz", phone="+7 701 555 00 02")
    make_client(email="noconsent@mail.kz", phone="+7 701 555 00 03", consents=("identification",))
    blocked = make_client(email="blocked@mail.kz", phone="+7 701 555 00 04")
    blocked.status = BLOCKED
    db.session.commit()
    optouts.add_opt_out("keep2@mail.kz", None, "email")
    db.session.commit()
    rows = ["name,email,phone"] + [
        f"r{n},{email},{phone}" for n, (email, phone) in enumerate(
            [("keep1@mail.kz", ""), ("KEEP2@mail.kz", ""), ("noconsent@mail.kz", ""), ("", "8 701 555 00 01"),
             ("blocked@mail.kz", "+77015550004"), ("stranger@mail.kz", ""), ("not-an-address", "")] * 5)]
    text = "\n".join(rows) + "\n"
    outputs = []
    for processes in (1, 2):
        out = io.StringIO()
        result = scrub.scrub_rows(csv.reader(io.StringIO(text)), csv.writer(out, lineterminator="\n"),
                                  email_column=1, phone_column=2, batch_size=4, processes=processes)
        outputs.append((out.getvalue(), result.rows, result.kept, dict(result.removed)))
    assert outputs[0] == outputs[1]
    assert outputs[0][1] == 35 and outputs[0][2] == 10  # keep1 by e-mail and by phone, five times each
