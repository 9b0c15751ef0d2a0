"""Every code the back-office stores and shows, with its translated label: one table per kind of code.

Nothing a user sees is an internal code: templates call `{{ code|label("status") }}` (or `labels.label(code,
"status")` in Python); a code missing from its table falls back to the code itself, and the page walk in
tests/admin/test_pages_show_labels.py fails if that ever reaches a kk or ru page.

Legal references are stored as keys (deadline and retention rules, erasure exceptions) and shown in the reader's
language with the full official titles of the laws (kz-law-notes.md); a reference an admin typed by hand is shown
as typed. This module sits below services, admin and models' users, and imports nothing of the application.
"""
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

REQUEST_TYPES = {
    "access": _l("Access / information about processing"),
    "rectification": _l("Rectification"),
    "blocking": _l("Blocking"),
    "unblocking": _l("Unblocking"),
    "erasure": _l("Erasure"),
    "consent_withdrawal": _l("Consent withdrawal"),
    "marketing_opt_out": _l("Marketing opt-out"),
    "third_party_grant": _l("Third-party access grant"),
}
REQUEST_STATUSES = {
    "received": _l("Received"), "identity_verified": _l("Identity verified"), "in_progress": _l("In progress"),
    "awaiting_approval": _l("Awaiting approval"), "approved": _l("Approved"), "executing": _l("Executing"),
    "completed": _l("Completed"), "rejected": _l("Rejected"), "cancelled": _l("Cancelled"), "failed": _l("Failed"),
}
REQUEST_CHANNELS = {
    "email": _l("E-mail"), "letter": _l("Letter"), "e_document": _l("E-document"), "phone": _l("Phone"),
    "in_person": _l("In person"), "web_form": _l("Web form"), "api": _l("API"),
}
# Steps and timeline events of a request (the same words as services/requests.ACTION_LABELS, which core moves).
REQUEST_ACTIONS = {
    "create": _l("Received"),
    "verify_identity": _l("Verify identity"),
    "start": _l("Start work"),
    "submit_for_approval": _l("Submit for approval"),
    "approve": _l("Approve"),
    "release": _l("Produce export"),
    "begin_execution": _l("Execution started"),
    "complete": _l("Complete"),
    "fail": _l("Failed"),
    "retry": _l("Queue the job again"),
    "reject": _l("Reject"),
    "cancel": _l("Cancel"),
    "merge_duplicate": _l("Merge into another request"),
    "assign": _l("Assign"),
    "extend_deadline": _l("Extend the deadline"),
    "match_client": _l("Link to a client"),
    "job_not_queued": _l("Job could not be queued"),
    "duplicate_merged": _l("Duplicate merged into this request"),
    "execution_started": _l("Execution started"),
    "execution_resumed": _l("Execution resumed"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "retried": _l("Queued again"),
    "block_expired": _l("Block ended: client unblocked"),
    "block_ended": _l("Block ended: lifted here, the other systems follow"),
    "letter_sent": _l("Letter sent to the client"),  # [mail] issue 12
}
IDENTITY_METHODS = {
    "registered_email": _l("Request came from the registered e-mail"),
    "document_seen": _l("Identity document seen (type and last 4 digits noted)"),
    "phone_callback": _l("Call-back to the registered phone"),
    "signed_letter": _l("Signed letter / e-document"),
}
# Record types of the retention table, the erasure certificate and the audit log's objects.
RECORD_TYPES = {
    "client": _l("Client record"),
    "client_account": _l("Site account"),
    "booking": _l("Bookings"),
    "communication": _l("Communications"),
    "consent": _l("Consents"),
    "privacy_request": _l("Privacy requests"),
    "marketing_opt_out": _l("Marketing opt-outs"),
    "export_package": _l("Export packages"),
    "disclosure_grant": _l("Disclosure register (policy 4.1)"),
    # [mail] issue 12: the client's e-mails and our letters (erased with the client)
    "inbound_mail": _l("E-mails from the client"),
    "mail_attachment": _l("E-mail attachments"),
    "letter": _l("Letters to the client"),
    "download_link": _l("Download links"),
}
# Categories of an export package (data.json's sections, summary.html's table).
EXPORT_CATEGORIES = {
    "identity": _l("Identity data"),
    "site_account": _l("Site account"),
    "bookings": _l("Bookings"),
    "communications": _l("Communications"),
    "consents": _l("Consents"),
    "privacy_requests": _l("Privacy requests"),
    "marketing_opt_outs": _l("Marketing opt-outs"),
    # Policy 4.1-4.2: the register's grants (every column, how each ended) and each actual disclosure (issue 15).
    "disclosures": _l("Disclosures to third parties (who received your data)"),
    "disclosure_log": _l("Disclosures of your data"),
}
# Categories of personal data (the processing register's; a disclosure or a breach names a subset).
DATA_CATEGORIES = {
    "identity": _l("Identity (name, date of birth, IIN)"), "contact": _l("Contact (e-mail, phone)"),
    "document": _l("Identity document number"), "employment": _l("Employer agency and position (B2B)"),
    "booking": _l("Bookings and tickets"), "account": _l("Site account"), "communications": _l("Support messages"),
    "consents": _l("Consents"), "requests": _l("Privacy requests and what the requester wrote"),
}
AUDIT_OBJECTS = {
    **RECORD_TYPES,
    "staff_user": _l("Staff account"),
    "deadline_rule": _l("Deadline rules"),
    "integration_token": _l("Integration tokens"),
    "campaign_list": _l("Campaign list"),
    "optout_import": _l("Opt-out import"),
    "audit_log": _l("Audit log"),
    "statistics": _l("Statistics"),
    "letter_template": _l("Letter templates"),  # [mail] issue 12
}
AUDIT_ACTIONS = {
    "auth.login": _l("Signed in"),
    "auth.login_failed": _l("Failed sign-in"),
    "auth.logout": _l("Signed out"),
    "audit.export": _l("Audit log exported"),
    "audit.verify": _l("Audit chain checked"),
    "client.erase": _l("Client erased"),
    "client.read_full_record": _l("Full record viewed"),
    "consent.give": _l("Consent given"),
    "consent.withdraw": _l("Consent withdrawn"),
    "deadline_rule.update": _l("Deadline rule changed"),
    "export.download": _l("Export package downloaded"),
    "export.expired": _l("Export package expired"),
    "integration_token.create": _l("Integration token created"),
    "integration_token.revoke": _l("Integration token revoked"),
    "job.requeued": _l("Job queued again"),
    "optout.add": _l("Opt-out added"),
    "optout.export_hashes": _l("Suppression list exported as hashes"),
    "optout.import": _l("Opt-out import ended"),
    "optout.import_start": _l("Opt-out import started"),
    "optout.remove": _l("Opt-out removed"),
    "optout.scrub": _l("Campaign list scrubbed"),
    "requests.export_csv": _l("Request list exported"),
    "staff.create": _l("Staff account created"),
    "staff.update": _l("Staff account changed"),
    "statistics.download": _l("Statistics downloaded"),
    "certificate.download": _l("Erasure certificate downloaded"),
    "certificate.verify": _l("Erasure certificate checked"),
    "summary.download": _l("Access summary downloaded"),
    # [mail] issue 12: the e-mail channel
    "mail.receive": _l("E-mail received"),
    "mail.read": _l("E-mail viewed"),
    "mail.attachment_read": _l("E-mail attachment downloaded"),
    "mail.triage_request": _l("Request created from an e-mail"),
    "mail.triage_dismiss": _l("E-mail dismissed"),
    "letter.send": _l("Letter sent"),
    "letter.read": _l("Letter viewed"),
    "letter.resend": _l("Letter sent again"),
    "letter_template.update": _l("Letter template changed"),
    "download.public": _l("Export downloaded by the client"),
    "download.code_wrong": _l("Wrong download code"),
    "download.refused": _l("Download refused"),
    "download.code_for_phone": _l("Download code issued for a phone call"),
    # issue 15: the processing register's downloads, the breach notices to affected clients
    "processing_register.export": _l("Processing register downloaded"),
    "breach.subjects_letters_queued": _l("Breach notices put in the letter outbox"),
}
JOB_KINDS = {"erasure": _l("Erasure"), "export": _l("Export package"), "system": _l("Task in another system"),
             "completion": _l("Completion once every system is done"), "optout_import": _l("Opt-out import")}
# An opt-out import's run (models.optouts.IMPORT_STATUSES) and why one failed (services/optout_import_runs).
IMPORT_STATES = {
    "queued": _l("queued"), "checking": _l("checking every row"), "importing": _l("importing"), "done": _l("done"),
    "refused": _l("nothing imported: rows to fix"), "failed": _l("failed"),
}
IMPORT_FAILURES = {
    "file_missing": _l("The uploaded file is no longer on the server (it expired, or the worker cannot see the "
                       "instance folder). Upload the file again."),
    "expired": _l("The import waited too long without a worker to run it and its file was deleted. Upload the file "
                  "again; if this happens again, ask the administrator to check the job workers."),
    "error": _l("The import stopped with an error. The rows imported before it stay on the list. Upload the same "
                "file again: rows already on the list are merged, not added twice. If it fails again, contact the "
                "administrator (the Jobs page shows the error)."),
}
AUDIT_CHAIN_FAULTS = {  # services/audit.verify's reasons
    "content_changed": _l("the event's stored hash does not match its content (the event was altered)"),
    "missing_link": _l("the event does not follow the previous one (events before it were removed or altered)"),
    "missing_tail": _l("the chain ends before its head (events at the end were removed)"),
    "head_mismatch": _l("the head does not point at the last event of the chain"),
}
AUDIT_OUTCOMES = {"success": _l("success"), "failure": _l("failure"), "denied": _l("denied")}
JOB_STATES = {
    "queued": _l("queued"), "started": _l("running"), "failed": _l("failed"), "finished": _l("finished"),
    "scheduled": _l("scheduled"), "deferred": _l("deferred"), "retrying": _l("waiting to retry"),
    "lost": _l("lost"), "canceled": _l("cancelled"), "stopped": _l("stopped"),
}
ROLES = {
    "support": _l("Support"), "manager": _l("Manager"), "supervisor": _l("Supervisor"), "admin": _l("Administrator"),
    # Who the audit log names when no staff member acted (services/audit.SYSTEM, ANONYMOUS).
    "system": _l("system"), "anonymous": _l("anonymous"),
}
# Client fields a rectification may change (models/clients.RECTIFIABLE_FIELDS).
CLIENT_FIELDS = {
    "full_name": _l("Full name"), "email": _l("E-mail"), "phone": _l("Phone"), "iin": _l("IIN"),
    "position": _l("Position"), "date_of_birth": _l("Date of birth"), "preferred_language": _l("Preferred language"),
}
CLIENT_STATUSES = {"active": _l("Active"), "blocked": _l("Blocked"), "erased": _l("Erased")}
ACCOUNT_STATES = {"active": _l("Active"), "blocked": _l("Blocked"), "closed": _l("Closed")}
LANGUAGES = {"kk": _l("Kazakh"), "ru": _l("Russian"), "en": _l("English")}
SOURCES = {  # policy 2.1: where a personal-data row (or a consent's withdrawal) came from
    "registration": _l("registration"), "form": _l("web form"), "service_use": _l("use of services"),
    "staff_entry": _l("entered by staff"), "import": _l("import"), "privacy_request": _l("privacy request"),
    "api": _l("integration API"), "unsubscribe_link": _l("Unsubscribe link"),
    "consent_withdrawal": _l("Consent withdrawal"),
}
OPT_OUT_SOURCES = {
    "privacy_request": _l("Privacy request"), "unsubscribe_link": _l("Unsubscribe link"),
    "staff_entry": _l("Staff entry"), "import": _l("Import"), "consent_withdrawal": _l("Consent withdrawal"),
}
CONSENT_PURPOSES = {
    "identification": _l("Identification"), "marketing": _l("Marketing"), "statistics": _l("Statistics"),
    "third_party": _l("Transfer to third parties"),
}
OPT_OUT_CHANNELS = {"email": _l("E-mail"), "sms": _l("SMS"), "phone": _l("Phone calls"), "all": _l("All channels")}
COMMUNICATION_CHANNELS = {"email": _l("e-mail"), "phone": _l("phone"), "chat": _l("chat"), "sms": _l("SMS")}
COMMUNICATION_DIRECTIONS = {"inbound": _l("from the client"), "outbound": _l("to the client")}
RETENTION_ACTIONS = {
    "delete": _l("deleted"), "depersonalise": _l("kept without your personal data"), "keep": _l("kept"),
}
COUNTED_FROM = {"receipt": _l("receipt"), "approval": _l("approval")}
CERTIFICATE_OUTCOMES = {"complete": _l("complete"), "partial": _l("partial"),
                        "residual": _l("not complete: identifiers left behind")}
EXCEPTION_REASONS = {"unflown_ticket": _l("ticket not yet flown"),
                     "system_cannot": _l("the system cannot carry it out (recorded by a manager)")}
LETTER_TEMPLATES = {  # services/letter_templates.DEFAULTS
    "acknowledgement": _l("Acknowledgement of receipt"), "identity_verification": _l("Identity check asked"),
    "completion": _l("Request completed"), "access_ready": _l("Data ready: download link"),
    "download_code": _l("One-time download code"), "refusal": _l("Refusal with reason"),
    "extension": _l("Deadline extended"), "block_placed": _l("Block placed"), "block_lifted": _l("Block lifted"),
    "breach_notification": _l("Personal data breach notice"),
}
SCRUB_REASONS = {
    "erased": _l("Erased client"),
    "blocked": _l("Blocked client"),
    "opted_out": _l("On the suppression list"),
    "no_marketing_consent": _l("No marketing consent (or not a client)"),
    "no_valid_address": _l("No valid e-mail or phone in the chosen columns"),
}

# key → text per language, exactly as docs/glossary.md gives them: full official titles, citations in the Law's
# own form («…Заңының 24-бабы 1-тармағының 5) тармақшасы», «подпункт 5) пункта 1 статьи 24 Закона …»,
# «п. 5.3 Политики»). Keys are what the database stores (migration house01 turned the seeded English texts into
# these keys); LEGACY_LEGAL_TEXTS maps the old seeded texts to their keys for rows written before it.
LEGAL_REFERENCES = {
    "law94.access": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 24(1)(1), 25(2)(6); refusal art. 25(2)(7)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 24-бабы 1-тармағының 1) тармақшасы, 25-бабы 2-тармағының 6) "
              "тармақшасы; бас тарту — 25-бабы 2-тармағының 7) тармақшасы",
        "ru": "подпункт 1) пункта 1 статьи 24, подпункт 6) пункта 2 статьи 25 Закона Республики "
              "Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите»; отказ — "
              "подпункт 7) пункта 2 статьи 25",
    },
    "law94.rectification": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 13, 25(2)(8)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 13-бабы, 25-бабы 2-тармағының 8) тармақшасы",
        "ru": "статья 13, подпункт 8) пункта 2 статьи 25 Закона Республики Казахстан от 21 мая 2013 "
              "года № 94-V «О персональных данных и их защите»",
    },
    "law94.blocking": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 24(1)(3), 25(2)(8)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 24-бабы 1-тармағының 3) тармақшасы, 25-бабы 2-тармағының 8) "
              "тармақшасы",
        "ru": "подпункт 3) пункта 1 статьи 24, подпункт 8) пункта 2 статьи 25 Закона Республики "
              "Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите»",
    },
    "law94.erasure": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 24(1)(4), 25(2)(8)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 24-бабы 1-тармағының 4) тармақшасы, 25-бабы 2-тармағының 8) "
              "тармақшасы",
        "ru": "подпункт 4) пункта 1 статьи 24, подпункт 8) пункта 2 статьи 25 Закона Республики "
              "Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите»",
    },
    "law94.consent_withdrawal": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 24(1)(5); exceptions art. 8(2); period to confirm",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 24-бабы 1-тармағының 5) тармақшасы; ерекшеліктер — 8-бабының "
              "2-тармағы; мерзімі нақтылануы тиіс",
        "ru": "подпункт 5) пункта 1 статьи 24 Закона Республики Казахстан от 21 мая 2013 года № 94-V "
              "«О персональных данных и их защите»; исключения — пункт 2 статьи 8; срок уточняется",
    },
    "law94.third_party": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 19; privacy policy, clause 4.1",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 19-бабы; Құпиялық саясатының 4.1-тармағы",
        "ru": "статья 19 Закона Республики Казахстан от 21 мая 2013 года № 94-V «О персональных данных "
              "и их защите»; п. 4.1 Политики конфиденциальности",
    },
    "law94.art8_2": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 8(2)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 8-бабының 2-тармағы",
        "ru": "пункт 2 статьи 8 Закона Республики Казахстан от 21 мая 2013 года № 94-V «О персональных "
              "данных и их защите»",
    },
    "law94.art1_3": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 1(3)",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 1-бабының 3) тармақшасы",
        "ru": "подпункт 3) статьи 1 Закона Республики Казахстан от 21 мая 2013 года № 94-V «О "
              "персональных данных и их защите»",
    },
    "law94.request_proof": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\", art. 25(2): proof that the request was handled",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңының 25-бабының 2-тармағы: өтініштің орындалғанын растау",
        "ru": "пункт 2 статьи 25 Закона Республики Казахстан от 21 мая 2013 года № 94-V «О "
              "персональных данных и их защите»: подтверждение исполнения запроса",
    },
    "law94.client_tombstone": {
        "en": "Privacy policy, clause 5.3; Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 "
              "\"On personal data and their protection\", art. 24(1)(5): the row stays as a tombstone "
              "without personal data",
        "kk": "Құпиялық саясатының 5.3-тармағы; «Дербес деректер және оларды қорғау туралы» 2013 жылғы "
              "21 мамырдағы № 94-V Қазақстан Республикасы Заңының 24-бабы 1-тармағының 5) тармақшасы: "
              "клиент жазбасы дербес деректерсіз сақталады",
        "ru": "п. 5.3 Политики конфиденциальности; подпункт 5) пункта 1 статьи 24 Закона Республики "
              "Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите»: запись "
              "клиента сохраняется без персональных данных",
    },
    "accounting.art11": {
        "en": "Law of the Republic of Kazakhstan No. 234-III of 28 February 2007 \"On accounting and "
              "financial reporting\", art. 11 (tickets, invoices, payments)",
        "kk": "«Бухгалтерлік есеп пен қаржылық есептілік туралы» 2007 жылғы 28 ақпандағы № 234-III "
              "Қазақстан Республикасы Заңының 11-бабы (билеттер, шот-фактуралар, төлемдер)",
        "ru": "статья 11 Закона Республики Казахстан от 28 февраля 2007 года № 234-III «О "
              "бухгалтерском учете и финансовой отчетности» (билеты, счета-фактуры, платежи)",
    },
    "policy.3_2_2": {
        "en": "Privacy policy, clause 3.2.2 (immediately, no approval)",
        "kk": "Құпиялық саясатының 3.2.2-тармағы (бірден, бекітусіз)",
        "ru": "п. 3.2.2 Политики конфиденциальности (сразу, без утверждения)",
    },
    "policy.opt_out_hash": {
        "en": "Privacy policy, clause 3.2.2: the opt-out survives as keyed hashes only",
        "kk": "Құпиялық саясатының 3.2.2-тармағы: таратудан бас тарту тек кілтті хештер (HMAC) түрінде "
              "сақталады",
        "ru": "п. 3.2.2 Политики конфиденциальности: отказ от рассылки сохраняется только в виде хешей "
              "с ключом (HMAC)",
    },
    "policy.account_deleted": {
        "en": "Privacy policy, clause 5.3: the site account is deleted",
        "kk": "Құпиялық саясатының 5.3-тармағы: сайттағы есептік жазба жойылады",
        "ru": "п. 5.3 Политики конфиденциальности: учётная запись на сайте уничтожается",
    },
    "policy.no_retention": {
        "en": "Privacy policy, clause 5.3: no retention duty",
        "kk": "Құпиялық саясатының 5.3-тармағы: сақтау міндеті жоқ",
        "ru": "п. 5.3 Политики конфиденциальности: обязанности хранения нет",
    },
    "law94.breach_notice": {
        "en": "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On personal data and their "
              "protection\" as amended by Law No. 44-VIII (in force 1 July 2024): notice of a breach to the "
              "authorised body; privacy policy, clause 4.3",
        "kk": "«Дербес деректер және оларды қорғау туралы» 2013 жылғы 21 мамырдағы № 94-V Қазақстан "
              "Республикасы Заңы (№ 44-VIII Заңмен енгізілген өзгерістермен, 2024 жылғы 1 шілдеден бастап): "
              "бұзушылық туралы уәкілетті органға хабарлау; Құпиялық саясатының 4.3-тармағы",
        "ru": "Закон Республики Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите» "
              "(с изменениями Законом № 44-VIII, действуют с 1 июля 2024 года): уведомление уполномоченного "
              "органа о нарушении; п. 4.3 Политики конфиденциальности",
    },
    "policy.export_deleted": {
        "en": "Privacy policy, clause 5.4: export files are deleted",
        "kk": "Құпиялық саясатының 5.4-тармағы: экспорт файлдары жойылады",
        "ru": "п. 5.4 Политики конфиденциальности: файлы выгрузки уничтожаются",
    },
}
LEGACY_LEGAL_TEXTS = {
    "Law 94-V art. 24(1)(1), 25(2)(6); refusal art. 25(2)(7)": "law94.access",
    "Law 94-V art. 13, 25(2)(8)": "law94.rectification",
    "Law 94-V art. 24(1)(3), 25(2)(8)": "law94.blocking",
    "Law 94-V art. 24(1)(4), 25(2)(8)": "law94.erasure",
    "Law 94-V art. 24(1)(5); exceptions art. 8(2); period to confirm": "law94.consent_withdrawal",
    "Policy 3.2.2 (immediately, no approval)": "policy.3_2_2",
    "Law 94-V art. 19; policy 4.1": "law94.third_party",
    "Law No. 94-V art. 8(2)": "law94.art8_2",
    "Law No. 94-V art. 1(3)": "law94.art1_3",
    "Law of the RK on accounting and financial reporting, art. 11 (tickets, invoices, payments)": "accounting.art11",
    "Law No. 94-V art. 25(2): proof that the request was handled": "law94.request_proof",
    "Policy 5.3; Law No. 94-V art. 24(1)(5): the row stays as a tombstone without personal data":
        "law94.client_tombstone",
    "Policy 3.2.2: the opt-out survives as keyed hashes only": "policy.opt_out_hash",
    "Policy 5.3: the site account is deleted": "policy.account_deleted",
    "Policy 5.3: no retention duty": "policy.no_retention",
    "Policy 5.4: export files are deleted": "policy.export_deleted",
    "Law 94-V as amended by Law 44-VIII (from 1 July 2024); policy 4.3": "law94.breach_notice",
}

TABLES = {
    "request_type": REQUEST_TYPES, "type": REQUEST_TYPES,
    "status": REQUEST_STATUSES, "request_status": REQUEST_STATUSES,
    "channel": REQUEST_CHANNELS,
    "action": REQUEST_ACTIONS, "identity_method": IDENTITY_METHODS,
    "record_type": RECORD_TYPES, "category": EXPORT_CATEGORIES,
    "audit_action": AUDIT_ACTIONS, "audit_object": AUDIT_OBJECTS, "audit_outcome": AUDIT_OUTCOMES, "chain_fault": AUDIT_CHAIN_FAULTS,
    "job_state": JOB_STATES, "job_kind": JOB_KINDS, "role": ROLES,
    "client_status": CLIENT_STATUSES, "client_field": CLIENT_FIELDS, "account_state": ACCOUNT_STATES,
    "language": LANGUAGES, "source": SOURCES, "optout_source": OPT_OUT_SOURCES, "purpose": CONSENT_PURPOSES,
    "optout_channel": OPT_OUT_CHANNELS,
    "communication_channel": COMMUNICATION_CHANNELS, "direction": COMMUNICATION_DIRECTIONS,
    "retention_action": RETENTION_ACTIONS, "counted_from": COUNTED_FROM,
    "certificate_outcome": CERTIFICATE_OUTCOMES, "exception_reason": EXCEPTION_REASONS,
    "scrub_reason": SCRUB_REASONS, "import_state": IMPORT_STATES, "import_failure": IMPORT_FAILURES,
    "data_category": DATA_CATEGORIES, "letter_template": LETTER_TEMPLATES,
}


_REQUEST = _l("Request")


def _language():
    locale = get_locale()
    return locale.language if locale is not None else "en"


def legal_reference(value):
    """A stored legal reference (key, or a seeded text from before keys) in the reader's language, with the laws'
    official titles; a reference an admin wrote by hand is shown as written."""
    if not value:
        return ""
    texts = LEGAL_REFERENCES.get(LEGACY_LEGAL_TEXTS.get(value, value))
    if texts is None:
        return value
    return texts.get(_language()) or texts["en"]


def label(code, kind):
    """The translated label of `code` in the table `kind` ("status", "channel", "role", ...); the code itself when
    the table lacks it (never raises, so a new code shows up in the page walk instead of a 500)."""
    if code is None:
        return ""
    if kind == "legal_reference":
        return legal_reference(code)
    if kind == "audit_action" and code not in AUDIT_ACTIONS and code.startswith("request."):
        step = REQUEST_ACTIONS.get(code.partition(".")[2])
        return f"{_REQUEST}: {step}" if step is not None else code
    if kind == "roles":
        return ", ".join(str(ROLES.get(role, role)) for role in sorted(_role_codes(code)))
    return TABLES[kind].get(code, code)


def _role_codes(value):
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value or ())


def choices(kind, codes=None):
    """(code, label) pairs for a select field or a Flask-Admin column filter, in `codes` order or the table's."""
    table = TABLES[kind]
    return [(code, table[code]) for code in (codes if codes is not None else table)]



def init_app(app):
    """Templates get `{{ code|label("status") }}`, `{{ ref|legal_reference }}` and `label(code, kind)`."""
    app.add_template_filter(label, "label")
    app.add_template_filter(legal_reference, "legal_reference")
    app.add_template_global(label, "label")
