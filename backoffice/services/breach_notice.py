"""The draft notice to the authorised body, in Russian and Kazakh, from the incident's facts (policy 4.3).

It names no client and never quotes the staff-only description: categories, systems, counts, the containment
steps and the contact of the person responsible for organising processing (Law 94-V art. 25(3)).
"""
from flask_babel import force_locale
from flask_babel import gettext as _

from . import breaches, compliance_settings, deadlines
from .disclosures import DATA_CATEGORY_LABELS

LANGUAGES = ("ru", "kk")


def draft(incident, language):
    """The notice text in `language` (ru or kk) as plain text."""
    if language not in LANGUAGES:
        language = "ru"
    counts = breaches.affected_counts(incident.id)
    contact = incident.notice_contact or compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON)
    with force_locale(language):
        discovered = deadlines.local_datetime(incident.discovered_at).strftime("%d.%m.%Y %H:%M")
        categories = ", ".join(str(DATA_CATEGORY_LABELS.get(c, c)) for c in incident.data_categories or []) or "—"
        systems = ", ".join(breaches.system_names(incident.systems)) or "—"
        lines = [
            _("Notice of a personal data security breach"),
            "",
            _("To: the authorised body for the protection of personal data"),
            _("From: Bek Air JSC, owner and operator of the database"),
            _("Incident number: %(id)s", id=incident.id),
            _("Discovered at (Almaty time): %(at)s", at=discovered),
            _("Categories of personal data concerned: %(list)s", list=categories),
            _("Systems concerned: %(list)s", list=systems),
            _("Estimated number of data subjects: %(count)s",
              count=incident.estimated_count if incident.estimated_count is not None else "—"),
            _("Data subjects identified so far: %(count)s", count=counts["total"]),
            "",
            _("Measures taken to contain the breach:"),
        ]
        steps = incident.steps or []
        lines += [f"{n}. {step.text}" for n, step in enumerate(steps, 1)] or [_("(none recorded yet)")]
        lines += ["", _("Contact of the person responsible for organising processing: %(contact)s",
                        contact=contact or "—")]
        return "\n".join(lines)
