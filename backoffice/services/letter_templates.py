"""Letters to clients in kk, ru and en (policy 5.2–5.4): built-in defaults, the admin's edits, sandboxed rendering.

A template is rendered by Jinja's SandboxedEnvironment (no attribute access to internals, no imports), with
autoescaping off because letters are plain text. The context holds only what the letter needs (request number,
dates, reasons, a link), never model objects. Every key exists in every language (a test checks it).
"""
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from ..extensions import db
from ..models.mail import LetterTemplate
from . import audit

LANGUAGES = ("kk", "ru", "en")

TYPE_NAMES = {
    "kk": {"access": "дербес деректерге қол жеткізу", "rectification": "деректерді түзету",
           "blocking": "деректерді бұғаттау", "unblocking": "бұғаттан шығару", "erasure": "деректерді жою",
           "consent_withdrawal": "дербес деректерді өңдеуге арналған келісімді қайтарып алу",
           "marketing_opt_out": "жарнамалық таратудан бас тарту", "third_party_grant": "үшінші тұлғаға қол жеткізу"},
    "ru": {"access": "доступ к персональным данным", "rectification": "исправление данных",
           "blocking": "блокирование данных", "unblocking": "снятие блокирования", "erasure": "уничтожение персональных данных",
           "consent_withdrawal": "отзыв согласия на обработку персональных данных",
           "marketing_opt_out": "отказ от рекламных рассылок", "third_party_grant": "доступ третьего лица"},
    "en": {"access": "access to personal data", "rectification": "rectification of data",
           "blocking": "blocking of data", "unblocking": "lifting of a block", "erasure": "erasure of data",
           "consent_withdrawal": "withdrawal of consent to personal data processing",
           "marketing_opt_out": "marketing opt-out", "third_party_grant": "third-party access"},
}

# Names of the record kinds an erasure letter lists (what was deleted, what the law keeps).
RECORD_NAMES = {
    "kk": {"booking": "билеттер брондауы", "client_account": "жеке кабинет", "communication": "хат алмасу",
           "consent": "келісімдер", "export_package": "деректер көшірмелері", "inbound_mail": "сіздің хаттарыңыз",
           "letter": "біздің хаттарымыз", "mail_attachment": "хаттарға тіркемелер",
           "depersonalised": "иесіздендірілген түрде"},
    "ru": {"booking": "бронирования билетов", "client_account": "личный кабинет", "communication": "переписка",
           "consent": "согласия", "export_package": "копии данных", "inbound_mail": "ваши письма",
           "letter": "наши письма", "mail_attachment": "вложения писем", "depersonalised": "в обезличенном виде"},
    "en": {"booking": "ticket bookings", "client_account": "account", "communication": "correspondence",
           "consent": "consents", "export_package": "data copies", "inbound_mail": "your e-mails",
           "letter": "our letters", "mail_attachment": "e-mail attachments", "depersonalised": "depersonalised"},
}

_SIGN = {"kk": "Құрметпен,\nBek Air дербес деректерді қорғау қызметі",
         "ru": "С уважением,\nслужба защиты персональных данных Bek Air",
         "en": "Kind regards,\nBek Air data protection team"}

DEFAULTS = {
    "acknowledgement": {
        "kk": ("Өтінішіңіз алынды: №{{ number }}",
               "Сәлеметсіз бе!\n\nБіз сіздің «{{ type_name }}» өтінішіңізді {{ received }} алдық, нөмірі №{{ number }}.\n"
               "Заң бойынша жауап беру мерзімі: {{ due }} дейін.\n\n" + _SIGN["kk"]),
        "ru": ("Ваше обращение получено: № {{ number }}",
               "Здравствуйте!\n\nМы получили ваше обращение «{{ type_name }}» {{ received }}, его номер № {{ number }}.\n"
               "Срок ответа по закону: до {{ due }}.\n\n" + _SIGN["ru"]),
        "en": ("We received your request no. {{ number }}",
               "Hello,\n\nWe received your request \"{{ type_name }}\" on {{ received }}; its number is {{ number }}.\n"
               "The statutory deadline for our answer is {{ due }}.\n\n" + _SIGN["en"]),
    },
    "identity_verification": {
        "kk": ("Жеке басыңызды растау қажет: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтінішті орындау үшін жеке басыңызды растауымыз керек. "
               "Бізде тіркелген электрондық поштадан жазыңыз немесе тіркелген телефон нөміріңізді көрсетіңіз; "
               "құжат көшірмесін жібермеңіз.\n\n" + _SIGN["kk"]),
        "ru": ("Нужно подтвердить вашу личность: № {{ number }}",
               "Здравствуйте!\n\nЧтобы выполнить обращение № {{ number }}, нам нужно убедиться, что оно от вас. "
               "Напишите с e-mail, указанного при регистрации, или сообщите зарегистрированный номер телефона; "
               "копии документов не присылайте.\n\n" + _SIGN["ru"]),
        "en": ("Please confirm your identity: request no. {{ number }}",
               "Hello,\n\nTo carry out request no. {{ number }} we need to confirm it comes from you. Please write "
               "from the e-mail address you registered with, or tell us your registered phone number; do not send "
               "copies of documents.\n\n" + _SIGN["en"]),
    },
    "completion": {
        "kk": ("Өтінішіңіз орындалды: №{{ number }}",
               "Сәлеметсіз бе!\n\n«{{ type_name }}» №{{ number }} өтінішіңіз орындалды.\n"
               "{% if deleted %}Жойылғандар: {{ deleted|join(', ') }}.\n{% endif %}"
               "{% if kept %}Заң бойынша сақталатындар: {% for k in kept %}{{ k }}{% if not loop.last %}; "
               "{% endif %}{% endfor %}.\n{% endif %}\n" + _SIGN["kk"]),
        "ru": ("Ваше обращение выполнено: № {{ number }}",
               "Здравствуйте!\n\nВаше обращение «{{ type_name }}» № {{ number }} выполнено.\n"
               "{% if deleted %}Удалено: {{ deleted|join(', ') }}.\n{% endif %}"
               "{% if kept %}Сохраняется по закону: {% for k in kept %}{{ k }}{% if not loop.last %}; "
               "{% endif %}{% endfor %}.\n{% endif %}\n" + _SIGN["ru"]),
        "en": ("Your request no. {{ number }} is complete",
               "Hello,\n\nYour request \"{{ type_name }}\" no. {{ number }} has been carried out.\n"
               "{% if deleted %}Deleted: {{ deleted|join(', ') }}.\n{% endif %}"
               "{% if kept %}Kept because the law requires it: {% for k in kept %}{{ k }}{% if not loop.last %}; "
               "{% endif %}{% endfor %}.\n{% endif %}\n" + _SIGN["en"]),
    },
    "access_ready": {
        "kk": ("Деректеріңіз дайын: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтініш бойынша деректеріңіздің көшірмесі дайын. Оны мына сілтеме "
               "арқылы {{ expires }} дейін жүктеп алыңыз:\n{{ link }}\n\nБір реттік кодты бөлек хатпен жібереміз."
               "\n\n" + _SIGN["kk"]),
        "ru": ("Ваши данные готовы: № {{ number }}",
               "Здравствуйте!\n\nКопия ваших данных по обращению № {{ number }} готова. Скачайте её по ссылке "
               "до {{ expires }}:\n{{ link }}\n\nОдноразовый код придёт отдельным письмом.\n\n" + _SIGN["ru"]),
        "en": ("Your data is ready: request no. {{ number }}",
               "Hello,\n\nThe copy of your data for request no. {{ number }} is ready. Download it from this link "
               "until {{ expires }}:\n{{ link }}\n\nThe one-time code comes in a separate letter.\n\n" + _SIGN["en"]),
    },
    "download_code": {
        "kk": ("Бір реттік код: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтініш бойынша жүктеу коды: {{ code }}\n"
               "Кодты ешкімге айтпаңыз.\n\n" + _SIGN["kk"]),
        "ru": ("Одноразовый код: № {{ number }}",
               "Здравствуйте!\n\nКод для скачивания данных по обращению № {{ number }}: {{ code }}\n"
               "Никому не сообщайте этот код.\n\n" + _SIGN["ru"]),
        "en": ("One-time code: request no. {{ number }}",
               "Hello,\n\nThe code to download the data of request no. {{ number }} is: {{ code }}\n"
               "Do not share this code.\n\n" + _SIGN["en"]),
    },
    "refusal": {
        "kk": ("Өтініш бойынша шешім: №{{ number }}",
               "Сәлеметсіз бе!\n\nӨкінішке қарай, «{{ type_name }}» №{{ number }} өтінішіңізді орындай алмаймыз"
               "{% if partial %} толық көлемде{% endif %}.\nСебебі: {{ reason }}\n"
               "{% if legal_basis %}Құқықтық негіз: {{ legal_basis }}\n{% endif %}\n" + _SIGN["kk"]),
        "ru": ("Решение по обращению № {{ number }}",
               "Здравствуйте!\n\nК сожалению, мы не можем выполнить ваше обращение «{{ type_name }}» № {{ number }}"
               "{% if partial %} полностью{% endif %}.\nПричина: {{ reason }}\n"
               "{% if legal_basis %}Правовое основание: {{ legal_basis }}\n{% endif %}\n" + _SIGN["ru"]),
        "en": ("Decision on your request no. {{ number }}",
               "Hello,\n\nWe regret that we cannot carry out your request \"{{ type_name }}\" no. {{ number }}"
               "{% if partial %} in full{% endif %}.\nReason: {{ reason }}\n"
               "{% if legal_basis %}Legal basis: {{ legal_basis }}\n{% endif %}\n" + _SIGN["en"]),
    },
    "extension": {
        "kk": ("Мерзім ұзартылды: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтініш бойынша жауап беру мерзімі {{ due }} дейін ұзартылды.\n"
               "Себебі: {{ reason }}\n\n" + _SIGN["kk"]),
        "ru": ("Срок продлён: № {{ number }}",
               "Здравствуйте!\n\nСрок ответа по обращению № {{ number }} продлён до {{ due }}.\n"
               "Причина: {{ reason }}\n\n" + _SIGN["ru"]),
        "en": ("Deadline extended: request no. {{ number }}",
               "Hello,\n\nThe deadline for our answer to request no. {{ number }} is extended to {{ due }}.\n"
               "Reason: {{ reason }}\n\n" + _SIGN["en"]),
    },
    "block_placed": {
        "kk": ("Деректеріңіз бұғатталды: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтініш бойынша дербес деректеріңіз бұғатталды"
               "{% if until %} {{ until }} дейін{% endif %}.\n\n" + _SIGN["kk"]),
        "ru": ("Ваши данные заблокированы: № {{ number }}",
               "Здравствуйте!\n\nПо обращению № {{ number }} ваши персональные данные заблокированы"
               "{% if until %} до {{ until }}{% endif %}.\n\n" + _SIGN["ru"]),
        "en": ("Your data is blocked: request no. {{ number }}",
               "Hello,\n\nFollowing request no. {{ number }}, your personal data is blocked"
               "{% if until %} until {{ until }}{% endif %}.\n\n" + _SIGN["en"]),
    },
    "block_lifted": {
        "kk": ("Бұғаттау алынды: №{{ number }}",
               "Сәлеметсіз бе!\n\n№{{ number }} өтініш бойынша деректеріңізді бұғаттау алынды.\n\n" + _SIGN["kk"]),
        "ru": ("Блокирование снято: № {{ number }}",
               "Здравствуйте!\n\nПо обращению № {{ number }} блокирование ваших данных снято.\n\n" + _SIGN["ru"]),
        "en": ("Block lifted: request no. {{ number }}",
               "Hello,\n\nFollowing request no. {{ number }}, the block on your data has been lifted.\n\n"
               + _SIGN["en"]),
    },
}
# Policy 4.3: the notice to a client whose data a breach concerned (services/breach_subjects.py). It names no
# client and never quotes the staff-only description: the incident number, when it was discovered, the categories
# of data, what was done, what the client can do and the contact of the person responsible (Law art. 25(3)).
DEFAULTS["breach_notification"] = {
    "kk": ("Дербес деректердің қауіпсіздігін бұзу туралы хабарлама (№{{ number }} оқиға)",
           "Сәлеметсіз бе!\n\n«Bek Air» ЖШС сіздің дербес деректеріңіз бар дерекқордың меншік иесі және операторы "
           "ретінде {{ discovered }} анықталған дербес деректердің қауіпсіздігін бұзу туралы хабарлайды "
           "(№{{ number }} оқиға).\n\n"
           "Не болды: «Bek Air» ЖШС өңдейтін дербес деректерге рұқсатсыз қол жеткізу немесе оларды заңсыз ашу "
           "орын алуы мүмкін; олардың арасында сіздің дербес деректеріңіз болуы мүмкін.\n"
           "Бұзушылық қозғаған дербес деректердің санаттары: {{ categories|join(', ') }}.\n\n"
           "Біз не істедік: бұзушылықты жою және оның қайталануын болдырмау бойынша шаралар қабылдадық"
           "{% if authority_notified %}, {{ authority_notified }} дербес деректерді қорғау саласындағы уәкілетті "
           "органға хабарладық{% else %} және дербес деректерді қорғау саласындағы уәкілетті органға "
           "хабарлаймыз{% endif %}.\n\n"
           "Сіз не істей аласыз:\n"
           "— «Bek Air» атынан құпиясөзді, кодты немесе төлем картасының деректерін сұрайтын хаттарға, "
           "хабарламаларға және қоңырауларға сақ болыңыз: біз оларды ешқашан сұрамаймыз;\n"
           "— брондау сайтында есептік жазбаңыз болса, оның құпиясөзін ауыстырыңыз;\n"
           "— осы хатқа жауап беріп, дербес деректеріңізді өңдеу туралы ақпаратты, оларды өзгертуді немесе "
           "толықтыруды, бұғаттауды немесе жоюды сұрай аласыз (Саясаттың 5.2–5.4-тармақтары);\n"
           "— сондай-ақ дербес деректерді қорғау саласындағы уәкілетті органға жүгіне аласыз.\n\n"
           "Дербес деректерді өңдеуді ұйымдастыруға жауапты адамның байланыс деректері: {{ contact }}.\n\n"
           + _SIGN["kk"]),
    "ru": ("Уведомление о нарушении безопасности персональных данных (инцидент № {{ number }})",
           "Здравствуйте!\n\nТОО «Bek Air» как собственник и оператор базы, содержащей ваши персональные данные, "
           "сообщает о нарушении безопасности персональных данных, выявленном {{ discovered }} "
           "(инцидент № {{ number }}).\n\n"
           "Что произошло: возможны несанкционированный доступ к персональным данным, обрабатываемым ТОО «Bek Air», "
           "или их неправомерное раскрытие; в их числе могут быть ваши персональные данные.\n"
           "Категории персональных данных, затронутых нарушением: {{ categories|join(', ') }}.\n\n"
           "Что мы сделали: приняли меры по устранению нарушения и предотвращению его повторения"
           "{% if authority_notified %}, {{ authority_notified }} уведомили уполномоченный орган в сфере защиты "
           "персональных данных{% else %} и уведомляем уполномоченный орган в сфере защиты персональных "
           "данных{% endif %}.\n\n"
           "Что вы можете сделать:\n"
           "— с осторожностью относитесь к письмам, сообщениям и звонкам от имени Bek Air, в которых просят "
           "сообщить пароль, код или данные платёжной карты: мы их никогда не запрашиваем;\n"
           "— смените пароль учётной записи на сайте бронирования, если она у вас есть;\n"
           "— ответив на это письмо, вы можете запросить сведения об обработке ваших персональных данных, их "
           "изменение или дополнение, блокирование или уничтожение (пункты 5.2–5.4 Политики конфиденциальности);\n"
           "— вы также вправе обратиться в уполномоченный орган в сфере защиты персональных данных.\n\n"
           "Контакт лица, ответственного за организацию обработки персональных данных: {{ contact }}.\n\n"
           + _SIGN["ru"]),
    "en": ("Notice of a personal data security breach (incident no. {{ number }})",
           "Hello,\n\nBek Air LLP, as the owner and operator of the database that holds your personal data, "
           "informs you of a personal data security breach discovered on {{ discovered }} "
           "(incident no. {{ number }}).\n\n"
           "What happened: personal data processed by Bek Air LLP may have been accessed without authorisation or "
           "unlawfully disclosed; your personal data may be among them.\n"
           "Categories of personal data concerned: {{ categories|join(', ') }}.\n\n"
           "What we have done: we have taken measures to contain the breach and to prevent it from recurring"
           "{% if authority_notified %}, and on {{ authority_notified }} we notified the authorised body for the "
           "protection of personal data{% else %}, and we are notifying the authorised body for the protection of "
           "personal data{% endif %}.\n\n"
           "What you can do:\n"
           "- be wary of e-mails, messages and calls in the name of Bek Air asking for a password, a code or payment "
           "card details: we never ask for them;\n"
           "- change the password of your account on the booking site, if you have one;\n"
           "- by replying to this letter, you may ask for information about the processing of your personal data, "
           "their change or supplement, blocking or destruction (privacy policy, clauses 5.2–5.4);\n"
           "- you may also apply to the authorised body for the protection of personal data.\n\n"
           "Contact of the person responsible for organising the processing of personal data: {{ contact }}.\n\n"
           + _SIGN["en"]),
}
KEYS = tuple(DEFAULTS)

# A made-up request for the admin's preview (no real client's data).
DEMO_CONTEXT = {"number": "1042", "type": "consent_withdrawal", "received": "01.12.2026", "due": "02.12.2026 18:00",
                "reason": "…", "legal_basis": "Law No. 94-V art. 8(2)", "partial": False,
                "link": "https://privacy.example/download/EXAMPLE-TOKEN", "expires": "08.12.2026", "code": "123456",
                "deleted": ["client_account", "communication"], "kept": [("booking", "Law No. 94-V art. 8(2)")],
                "until": "", "discovered": "27.11.2026", "categories": ["…"], "authority_notified": "28.11.2026",
                "contact": "…"}

_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


class TemplateInvalid(Exception):
    """The template does not compile or does not render with the demo request; `message` says where."""


def source(key, language):
    """(subject, body) of a template: the admin's edit if any, else the built-in default."""
    row = db.session.execute(select(LetterTemplate).where(LetterTemplate.key == key,
                                                          LetterTemplate.language == language)).scalar_one_or_none()
    if row is not None:
        return row.subject, row.body
    return DEFAULTS[key][language]


def render_source(subject, body, language, context):
    values = dict(context)
    values.setdefault("type_name", TYPE_NAMES[language].get(values.get("type"), values.get("type") or ""))
    names = RECORD_NAMES[language]
    values["deleted"] = [names.get(code, code) for code in values.get("deleted") or []]
    values["kept"] = [f"{names.get(code, code)} ({names['depersonalised'] if why == 'depersonalised' else why})"
                      for code, why in values.get("kept") or []]
    try:
        rendered_subject = _ENV.from_string(subject).render(values)
        rendered_body = _ENV.from_string(body).render(values)
    except TemplateError as exc:
        raise TemplateInvalid(f"{type(exc).__name__}: {exc}") from None
    # A subject is one line, whatever a template or a value holds: no header injection.
    return " ".join(rendered_subject.split())[:250], rendered_body


def render(key, language, context):
    subject, body = source(key, language)
    return render_source(subject, body, language, context)


def check(subject, body, language):
    """Refuse a template that would fail on a real letter: it must render with the demo request."""
    return render_source(subject, body, language, DEMO_CONTEXT)


def rows():
    """Every (key, language) with whether the admin changed it from the default."""
    edited = {(row.key, row.language): row for row in db.session.execute(select(LetterTemplate)).scalars()}
    return [(key, language, (key, language) in edited) for key in KEYS for language in LANGUAGES]


def save(key, language, subject, body, by):
    """The admin's edit of one template; refused (nothing saved) unless it renders with the demo request."""
    if key not in DEFAULTS or language not in LANGUAGES:
        raise TemplateInvalid("unknown template")
    subject, body = (subject or "").strip(), (body or "").replace("\r\n", "\n")
    if not subject or not body.strip() or len(subject) > 300 or len(body) > 20000:
        raise TemplateInvalid("subject and body are required (subject at most 300, body 20,000 characters)")
    try:
        check(subject, body, language)
    except TemplateInvalid:
        db.session.rollback()
        raise
    row = db.session.execute(select(LetterTemplate).where(LetterTemplate.key == key,
                                                          LetterTemplate.language == language)).scalar_one_or_none()
    if row is None:
        row = LetterTemplate(key=key, language=language, subject=subject, body=body)
        db.session.add(row)
    row.subject, row.body, row.updated_by_id = subject, body, by.id
    db.session.flush()
    audit.record("letter_template.update", object_type="letter_template", object_id=row.id, actor=by,
                 details={"key": key, "language": language, "fields": ["subject", "body"]})
    db.session.commit()
    return row
