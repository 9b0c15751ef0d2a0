"""The processing register (issue 15) is generated from the models and cannot drift from them."""
import csv
import io

from backoffice.extensions import db
from backoffice.models import Booking, Client, ClientAccount, Communication, Consent, MarketingOptOut, PrivacyRequest
from backoffice.models.systems import PERSONAL_DATA_CATEGORIES
from backoffice.services import compliance_settings, datamap, processing_register

# Columns that are bookkeeping, not personal data about the client.
TECHNICAL = {"id", "client_id", "created_at", "updated_at", "version", "status", "source", "erased_at",
             "erasure_request_id", "preferred_language", "blocked_until", "depersonalised_at", "channel",
             "direction", "withdrawn_source", "email_hash", "phone_hash", "request_id", "created_by_id",
             "removed_at", "removed_by_id", "removal_reason", "reason", "type", "received_at", "due_at",
             "extended_at", "extension_reason", "assigned_to_id", "identity_method", "identity_verified_by_id",
             "identity_verified_at", "approved_by_id", "approved_at", "outcome", "rejection_reason",
             "duplicate_of_id", "job_id", "certificate", "completed_at", "notice_version_id", "withdrawn_channel"}


def test_every_personal_column_is_in_a_category_and_every_named_column_exists():
    covered = set()
    for _key, _label, columns, *_rest in processing_register.CATEGORIES:
        for model, name in columns:
            assert name in model.__table__.columns, f"{model.__tablename__}.{name}"
            covered.add((model.__tablename__, name))
    for model in (Client, Booking, ClientAccount, Communication, Consent, MarketingOptOut, PrivacyRequest):
        for column in model.__table__.columns:
            if column.name not in TECHNICAL:
                assert (model.__tablename__, column.name) in covered, f"{model.__tablename__}.{column.name}"


def test_the_categories_are_the_data_maps(app):
    assert tuple(key for key, *_rest in processing_register.CATEGORIES) == PERSONAL_DATA_CATEGORIES


def test_csv_in_three_languages_with_the_responsible_person(app, make_staff):
    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: "=Aida Nurlanovna, dpo@bekair.kz"},
                             make_staff("admin"))
    datamap.ensure_backoffice_system()
    for language in ("kk", "ru", "en"):
        text = processing_register.csv_text(language)
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0][1] == "'=Aida Nurlanovna, dpo@bekair.kz"  # formula-guarded
        # The responsible person, the header, one row per category, a blank line, the systems' header and rows.
        assert len(rows) == 2 + len(processing_register.CATEGORIES) + 2 + len(datamap.all_systems())
    assert "Retention" in processing_register.csv_text("en")
    assert "5 years" in processing_register.csv_text("en")
    db.session.rollback()
