"""Settings the airline edits in the back-office: the person responsible for organising processing (Law 94-V
art. 25(3)), the dormancy period and whether dormant accounts are erased (policy 3.1)."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models.notices import ComplianceSetting
from . import audit

RESPONSIBLE_PERSON = "responsible_person"
DORMANT_YEARS = "dormant_years"
DORMANT_ERASURE = "dormant_erasure_enabled"
DEFAULTS = {RESPONSIBLE_PERSON: "", DORMANT_YEARS: "3", DORMANT_ERASURE: "0"}
LABELS = {
    RESPONSIBLE_PERSON: _l("Person responsible for organising processing (Law art. 25(3))"),
    DORMANT_YEARS: _l("Dormant after (years without booking or login)"),
    DORMANT_ERASURE: _l("Open erasure requests for dormant accounts"),
}


class SettingError(ValueError):
    """A setting value that cannot be saved; the message is translated."""


def get(key):
    row = db.session.get(ComplianceSetting, key)
    return row.value if row is not None else DEFAULTS[key]


def dormant_years():
    try:
        return max(1, min(int(get(DORMANT_YEARS)), 50))
    except ValueError:
        return 3


def dormant_erasure_enabled():
    return get(DORMANT_ERASURE) == "1"


def _clean(key, value):
    value = (value or "").strip()
    if key == DORMANT_YEARS:
        if not value.isdigit() or not 1 <= int(value) <= 50:
            raise SettingError(_("The dormancy period must be a whole number of years from 1 to 50."))
        return str(int(value))
    if key == DORMANT_ERASURE:
        return "1" if value in ("1", "y", "on", "true") else "0"
    if len(value) > 300:
        raise SettingError(_("At most 300 characters."))
    return value


def save(values, by):
    """Save the given settings (all or nothing) and audit which changed (names only); commits."""
    clean = {}
    for key, value in values.items():
        if key not in DEFAULTS:
            raise SettingError(_("Unknown setting."))
        clean[key] = _clean(key, value)
    changed = []
    for key, value in clean.items():
        row = db.session.get(ComplianceSetting, key)
        if row is None:
            row = ComplianceSetting(key=key, value=DEFAULTS[key])
            db.session.add(row)
        if row.value != value:
            row.value, row.updated_by_id = value, by.id if by else None
            changed.append(key)
    if changed:
        audit.record("compliance_setting.update", object_type="compliance_setting", details={"fields": changed})
    db.session.commit()
    return changed
