"""Demo data: staff for each role and a few hundred realistic clients, from a seeded generator."""
import base64
import binascii
import datetime as dt
import random
import secrets
from decimal import Decimal

from sqlalchemy import func, select

from ..extensions import db
from ..identifiers import name_key, normalise_phone, with_control_digit
from ..models.clients import Agency, Client, ClientAccount
from ..models.consent import PURPOSES, Consent
from ..models.records import Booking, Communication
from ..models.requests import (
    ACCESS, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, MARKETING_OPT_OUT, RECTIFICATION, THIRD_PARTY_GRANT, PrivacyRequest,
)
from ..models.staff import ROLES, StaffUser
from . import intake, second_factor, steps
from . import staff as staff_service

DEMO_DOMAIN = "demo.local"
SEED = 2026

KK_FIRST_M = ["Нұрлан", "Ержан", "Асқар", "Дәурен", "Бауыржан", "Ерлан", "Мұрат", "Санжар", "Әлихан", "Арман"]
KK_FIRST_F = ["Айгүл", "Гүлнара", "Әйгерім", "Жанар", "Динара", "Меруерт", "Сәуле", "Ақбота", "Аружан", "Томирис"]
KK_LAST = ["Нұрланов", "Серікбаев", "Жұмабаев", "Әбенов", "Төлеуов", "Қасымов", "Оспанов", "Сәрсенбаев",
           "Бекмұхамбетов", "Ермеков", "Ахметов", "Исабеков"]
RU_FIRST_M = ["Алексей", "Дмитрий", "Сергей", "Андрей", "Игорь", "Павел", "Максим", "Виктор"]
RU_FIRST_F = ["Анна", "Ольга", "Елена", "Наталья", "Татьяна", "Ирина", "Мария", "Светлана"]
RU_LAST = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков"]
TRANSLIT = str.maketrans({
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o",
    "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "u", "ү": "u", "ф": "f", "х": "h",
    "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ы": "y", "і": "i", "э": "e", "ю": "yu", "я": "ya",
    "ь": "", "ъ": "",
})
AGENCIES = ["Silk Way Travel", "Astana Tour Service", "Almaty Business Trips", "Kazakh Corporate Travel",
            "Steppe Voyage", "Caspian Travel Group", "Altai Expeditions", "Nomad Business Aviation"]
POSITIONS = ["travel manager", "office manager", "accountant", "director", "HR specialist", "assistant"]
AIRPORTS = ["ALA", "NQZ", "CIT", "AKX", "GUW", "KGF", "PWQ", "UKK", "SCO", "URA"]
SUBJECTS = ["Change of flight date", "Invoice copy", "Baggage question", "Refund request", "Seat selection"]
MOBILE_PREFIXES = ["701", "702", "705", "707", "747", "771", "775", "777", "778"]


def random_iin(rng, born, female):
    """A valid IIN for a person born on `born` (YYMMDD, century-gender digit, serial, control digit)."""
    century = 3 if born.year < 2000 else 5
    gender_digit = century + (1 if female else 0)
    while True:
        first = born.strftime("%y%m%d") + str(gender_digit) + f"{rng.randint(0, 9999):04d}"
        iin = with_control_digit(first)
        if iin:
            return iin


def random_bin(rng, registered):
    """A valid BIN: YYMM, entity type 4 (legal entity), sign, serial, control digit."""
    while True:
        first = registered.strftime("%y%m") + "4" + "0" + f"{rng.randint(0, 99999):05d}"
        bin_ = with_control_digit(first)
        if bin_:
            return bin_


def demo_password(configured=None):
    return configured or secrets.token_urlsafe(12)


def demo_totp_secret(configured=None):
    """DEMO_TOTP_SECRET (base32) or a fresh one; the demo enforces the second factor like production."""
    if configured:
        secret = configured.strip().replace(" ", "").upper()
        try:
            base64.b32decode(secret + "=" * (-len(secret) % 8))
        except (binascii.Error, ValueError):
            raise staff_service.StaffError("DEMO_TOTP_SECRET must be base32 (letters A-Z and digits 2-7).") from None
        return secret
    return second_factor.new_secret()


def ensure_demo_staff(password, totp_secret=None):
    """One demo account per role, enrolled with the demo TOTP secret; returns {email: created?}."""
    result = {}
    # A second support and manager, so four-eyes approval can be shown with a colleague.
    accounts = [(role, role) for role in ROLES] + [("support", "support2"), ("manager", "manager2")]
    for role, name in accounts:
        email = f"{name}@{DEMO_DOMAIN}"
        if staff_service.find_by_email(email) is None:
            user = staff_service.create_user(email, password, {role}, full_name=name.capitalize())
            if totp_secret:
                second_factor.enrol(user, totp_secret)
            result[email] = True
        else:
            result[email] = False
    return result


def build_client(rng, agencies, today):
    kazakh = rng.random() < 0.65
    female = rng.random() < 0.5
    if kazakh:
        first = rng.choice(KK_FIRST_F if female else KK_FIRST_M)
        last = rng.choice(KK_LAST) + ("а" if female else "")
    else:
        first = rng.choice(RU_FIRST_F if female else RU_FIRST_M)
        last = rng.choice(RU_LAST) + ("а" if female else "")
    full_name = f"{last} {first}"
    born = dt.date(rng.randint(1960, 2003), rng.randint(1, 12), rng.randint(1, 28))
    latin = f"{first.lower().translate(TRANSLIT)}.{last.lower().translate(TRANSLIT)}"
    email = f"{latin}{rng.randint(1, 999)}@{rng.choice(['mail.kz', 'gmail.com', 'inbox.kz', 'yandex.kz'])}"
    phone_raw = f"+7 {rng.choice(MOBILE_PREFIXES)} {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    phone = normalise_phone(phone_raw)
    created = dt.datetime.combine(today - dt.timedelta(days=rng.randint(30, 1500)), dt.time(9, 0))
    client = Client(
        full_name=full_name, name_key=name_key(full_name), email=email, email_norm=email.lower(),
        phone=phone_raw, phone_e164=phone, iin=random_iin(rng, born, female), date_of_birth=born,
        preferred_language="kk" if kazakh and rng.random() < 0.6 else rng.choice(["ru", "en"]),
        agency=rng.choice(agencies), position=rng.choice(POSITIONS), source="registration",
        created_at=created, updated_at=created,
    )
    client.accounts.append(ClientAccount(login=email, registered_at=created, source="registration",
                                         last_login_at=created + dt.timedelta(days=rng.randint(0, 25))))
    for _ in range(rng.randint(1, 4)):
        flight = today + dt.timedelta(days=rng.randint(-900, 120))
        origin, destination = rng.sample(AIRPORTS, 2)
        client.bookings.append(Booking(
            pnr="".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
            origin=origin, destination=destination, flight_date=flight, passenger_name=full_name,
            document_number=f"N{rng.randint(10000000, 99999999)}",
            amount=Decimal(rng.randint(18000, 240000)), currency="KZT",
            issued_at=dt.datetime.combine(flight - dt.timedelta(days=rng.randint(1, 60)), dt.time(12, 0)),
            source="service_use",
        ))
    for _ in range(rng.randint(0, 3)):
        client.communications.append(Communication(
            channel=rng.choice(["email", "phone", "chat"]), direction=rng.choice(["inbound", "outbound"]),
            subject=rng.choice(SUBJECTS), body=f"{first}, {rng.choice(SUBJECTS).lower()} — PNR follow-up.",
            sent_at=created + dt.timedelta(days=rng.randint(1, 25)), source="service_use",
        ))
    for purpose in PURPOSES:
        if purpose == "identification" or rng.random() < 0.6:
            client.consents.append(Consent(purpose=purpose, given_at=created, source="registration"))
    return client


def seed_clients(count=300, seed=SEED):
    """Add `count` demo clients unless demo clients exist already; returns how many were added."""
    if db.session.execute(select(func.count(Client.id))).scalar() > 0:
        return 0
    rng = random.Random(seed)
    today = dt.date.today()
    agencies = [Agency(name=name, bin=random_bin(rng, dt.date(2005 + i, 1 + i, 1))) for i, name in enumerate(AGENCIES)]
    db.session.add_all(agencies)
    for _ in range(count):
        db.session.add(build_client(rng, agencies, today))
    db.session.flush()
    return count


def seed_requests(seed=SEED):
    """A queue to work on: requests of every type in several states, driven through the real lifecycle.

    Only when there are no requests yet. Some are received days ago so that the deadline columns show
    "overdue" and "due soon"; one erasure waits for a manager's approval (four-eyes: manager@ may approve it,
    as support@ created it).
    """
    if db.session.execute(select(func.count(PrivacyRequest.id))).scalar() > 0:
        return 0
    rng = random.Random(seed + 1)
    support = staff_service.find_by_email(f"support@{DEMO_DOMAIN}")
    support2 = staff_service.find_by_email(f"support2@{DEMO_DOMAIN}")
    clients = db.session.execute(select(Client).where(Client.status == "active").order_by(Client.id).limit(40)
                                 ).scalars().all()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    plan = [
        (ERASURE, "submit", 0), (ERASURE, "received", 2), (ACCESS, "verified", 1), (ACCESS, "received", 5),
        (RECTIFICATION, "started", 0), (BLOCKING, "submit", 1), (CONSENT_WITHDRAWAL, "received", 0),
        (THIRD_PARTY_GRANT, "verified", 3), (MARKETING_OPT_OUT, "received", 0), (ERASURE, "verified", 0),
        (ACCESS, "received", 0), (RECTIFICATION, "received", 4),
    ]
    made = 0
    for (request_type, state, days_ago), client in zip(plan, rng.sample(clients, len(plan))):
        payload = None
        if request_type == RECTIFICATION:
            payload = {"changes": {"position": "travel manager"}}
        elif request_type == THIRD_PARTY_GRANT:
            payload = {"recipient": "Kazakh Corporate Travel LLP", "scope": "Bookings and invoices",
                       "expires_on": (dt.date.today() + dt.timedelta(days=180)).isoformat()}
        elif request_type == MARKETING_OPT_OUT:
            payload = {"channel": "all"}
        handler = support if made % 2 == 0 else support2
        req = intake.create_request(
            by=handler, type=request_type, channel=rng.choice(["email", "letter", "phone"]),
            requester_name=client.full_name, requester_email=client.email, client=client,
            description=None, payload=payload, received_at=now - dt.timedelta(days=days_ago, hours=rng.randint(1, 5)))
        if state in ("verified", "started", "submit") and req.status == "received":
            steps.take_step(req, "verify_identity", handler, method="registered_email")
            steps.take_step(req, "assign", handler, to=handler)
        if state in ("started", "submit") and req.status == "identity_verified":
            steps.take_step(req, "start", handler)
        if state == "submit" and req.status == "in_progress":
            steps.take_step(req, "submit_for_approval", handler,
                            comment="Identity confirmed by registered e-mail.")
        made += 1
    return made


def seed_demo(password, clients=300, totp_secret=None):
    """Idempotent: staff accounts, clients and a request queue are only added when missing."""
    staff = ensure_demo_staff(password, totp_secret)
    added = seed_clients(clients)
    db.session.commit()
    seed_requests()
    db.session.commit()
    return staff, added
