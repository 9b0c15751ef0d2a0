"""Intent detection in kk/ru/en (policy 5.3 marker phrase; 5.2, 5.4, 3.2.2 wordings)."""
import pytest

from backoffice.services import intent

MARKERS = [
    "дербес деректерді өңдеуге арналған келісімді қайтарып алу",
    "ДЕРБЕС ДЕРЕКТЕРДІ ӨҢДЕУГЕ АРНАЛҒАН КЕЛІСІМДІ ҚАЙТАРЫП АЛУ",
    "дербес деректерди ондеуге арналган келисимди кайтарып алу",  # Cyrillic look-alikes for the Kazakh letters
    "Дербес  деректерді\nөңдеуге\r\nарналған келісімді «қайтарып алу»",
    "отзыв согласия на обработку персональных данных",
    "«Отзыв   согласия\nна обработку ПЕРСОНАЛЬНЫХ данных»",
    "отзыв cогласия на обрaботку персональных данных",  # Latin c/a inside Cyrillic words
    "withdrawal of consent to personal data processing",
    'WITHDRAWAL OF "CONSENT" TO\nPERSONAL DATA PROCESSING',
    "I withdraw my consent to the processing of my personal data",
]


@pytest.mark.parametrize("text", MARKERS)
def test_the_marker_phrase_in_any_spelling_is_a_consent_withdrawal(text):
    assert intent.detect("Здравствуйте!\n" + text + "\nСпасибо").type == "consent_withdrawal"


@pytest.mark.parametrize("text, kind", [
    ("Прошу предоставить мне копию моих персональных данных", "access"),
    ("Please send me a copy of my personal data", "access"),
    ("Менің дербес деректеріме қол жеткізуді сұраймын", "access"),
    ("Прошу исправить мои данные: фамилия с ошибкой", "rectification"),
    ("Please update my passport details", "rectification"),
    ("Тегімді түзетуді сұраймын", "rectification"),
    ("Прошу заблокировать мои персональные данные", "blocking"),
    ("Please restrict processing of my data", "blocking"),
    ("Деректерімді бұғаттауды сұраймын", "blocking"),
    ("Прошу разблокировать мои данные", "unblocking"),
    ("Please unblock my data", "unblocking"),
    ("Прошу удалить мои персональные данные", "erasure"),
    ("Please delete my account", "erasure"),
    ("Right to be forgotten", "erasure"),
    ("Менің дербес деректерімді жоюды сұраймын", "erasure"),
    ("Отпишите меня от рассылки", "marketing_opt_out"),
    ("unsubscribe", "marketing_opt_out"),
    ("Жазылымнан бас тартамын", "marketing_opt_out"),
])
def test_usual_wordings(text, kind):
    assert intent.detect(text).type == kind


@pytest.mark.parametrize("text", ["Сколько стоит багаж?", "Hello", "", "Please delete my data and send me a copy of my data"])
def test_unclear_or_mixed_is_left_to_triage(text):
    assert intent.detect(text).type is None


def test_the_marker_wins_over_other_wordings():
    assert intent.detect("Отзыв согласия на обработку персональных данных; удалите мои данные").type == \
        "consent_withdrawal"


@pytest.mark.parametrize("text, language", [
    ("Сәлеметсіз бе, өтініш", "kk"), ("деректерди жою туралы отиниш", "kk"), ("Здравствуйте", "ru"),
    ("Hello", "en")])
def test_language_of_the_message(text, language):
    assert intent.language_of(text) == language
