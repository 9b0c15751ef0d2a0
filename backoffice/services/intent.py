"""What a client's e-mail asks for (policy 5.3 marker phrase; 5.2, 5.4, 3.2.2 wordings), in kk, ru and en.

Text is folded before matching: lower case, Kazakh letters mapped to the Cyrillic look-alikes people type instead
(қ→к, ү/ұ→у, ө→о, ә→а, і→и, ң→н, ғ→г, һ→х), Latin look-alikes inside Cyrillic words mapped to Cyrillic, quotes
dropped, every run of spaces and line breaks one space. A message that names no request, or names several kinds,
is `None` (the triage queue decides), never dropped.
"""
import re
from dataclasses import dataclass

from ..models.requests import (
    ACCESS, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, MARKETING_OPT_OUT, RECTIFICATION, UNBLOCKING,
)

_KAZAKH_FOLD = str.maketrans({"қ": "к", "ү": "у", "ұ": "у", "ө": "о", "ә": "а", "і": "и", "ң": "н", "ғ": "г",
                              "һ": "х", "ё": "е"})
# Latin letters that look like Cyrillic ones, typed inside Cyrillic words (a mixed keyboard, or a spam filter trick).
_LATIN_TO_CYRILLIC = str.maketrans({"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у",
                                    "k": "к", "m": "м", "t": "т", "b": "в", "h": "н", "i": "и"})
_QUOTES = re.compile(r"[\"'«»“”„‟‘’‚‹›`´]")
_SPACE = re.compile(r"[\s\u00a0\u200b\u2028\u2029]+")
_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")


def _fix_mixed_word(match):
    word = match.group(0)
    if _CYRILLIC.search(word) and _LATIN.search(word):
        return word.translate(_LATIN_TO_CYRILLIC)
    return word


def fold(text):
    """Lower-case, look-alike-folded, quote-free text with single spaces (what the patterns match against)."""
    text = (text or "").lower().translate(_KAZAKH_FOLD)
    text = text.replace("\u00ad", "")  # soft hyphen
    text = re.sub(r"-\s*\n\s*", "", text)  # a word hyphenated across a line break
    text = _QUOTES.sub("", text)
    text = _WORD.sub(_fix_mixed_word, text)
    return _SPACE.sub(" ", text).strip()


def _rx(*patterns):
    return tuple(re.compile(p) for p in patterns)


# The 5.3 marker phrase, in the three languages of the policy (after folding), and its close variants.
MARKER_PATTERNS = _rx(
    # kk: «дербес деректерді өңдеуге арналған келісімді қайтарып алу»
    r"дербес деректер\w* ондеу\w* (арналган |берилген )?келисим\w* (кери )?кайтар",
    r"келисим\w* (кери )?кайтарып ал",
    # ru: «отзыв согласия на обработку персональных данных»
    r"отзыв\w* (мое\w* |сво\w* |ранее данн\w* )?соглас\w* на обработк\w* (мо\w* )?персональн\w* данн",
    r"отзыва\w* (мое |свое |сво\w* )?соглас\w* на обработк",
    # en: "withdrawal of consent to personal data processing"
    r"withdraw\w* (of )?(my )?consent (to|for|on) (the )?(processing of )?(my )?personal data",
    r"withdraw\w* (of )?(my )?consent",
)

# Other requests by their usual wordings. Order matters only for reporting; several kinds at once → triage.
TYPE_PATTERNS = {
    UNBLOCKING: _rx(
        r"разблокир", r"снят\w* (блокировк|блок)", r"\bunblock", r"lift\w* (the )?(block|restriction)",
        r"бугаттан шыгар", r"бугатт\w* (алып тастау|алу|ашу|токтату)",
    ),
    BLOCKING: _rx(
        r"(?<!раз)блокир", r"блокировк", r"(?<!un)\bblock\w* (my|of my|the processing)", r"restrict\w* (the )?processing",
        r"бугатта",
    ),
    ERASURE: _rx(
        r"удал\w* (все |всех )?(мо\w* |мне |мен\w* )?(персональн\w* )?(данн|аккаунт|учетн|запис|информац)",
        r"удален\w* (мо\w* )?(персональн\w* )?данн", r"уничтож\w* (мо\w* )?(персональн\w* )?данн",
        r"\bdelete (all )?(of )?my", r"\berase (all )?(of )?my", r"\berasure\b", r"right to be forgotten",
        r"remove (all )?(of )?my (personal )?(data|account|details|information)", r"deletion of my",
        r"деректер\w* (толык |толыктай )?(жою|жоюды|ошир)", r"(жою|ошир)\w* (туралы )?(отиниш|сураим)",
        r"аккаунт\w* (жою|ошир)",
    ),
    RECTIFICATION: _rx(
        r"исправ\w* (мо\w* |ошибк\w* )", r"исправлен\w* (мо\w* )?(персональн\w* )?данн",
        r"(изменит|изменени|обновит|уточнит)\w* (мо\w* )(персональн\w* )?(данн|фамил|им[яи]|номер|паспорт|адрес|e-?mail|телефон)",
        r"\b(correct|rectify|update|change|fix)\w* (my|the) (personal )?(data|details|name|surname|address|phone|e-?mail|passport|date of birth)",
        r"\brectification\b", r"is (wrong|incorrect|misspelled) in your records",
        r"(тузет|озгерт)\w*", r"деректер\w* (дурыс емес|кате)",
    ),
    ACCESS: _rx(
        r"(предостав|направ|высл|отправ|присл)\w* (мне )?(копи\w* |сведени\w* |информаци\w* )?(о |об )?(мо\w* |всех мо\w* )?(персональн\w* )?данн",
        r"доступ\w* к (мо\w* )?(персональн\w* )?данн", r"как\w* (мо\w* )?(персональн\w* )?данн\w* (вы )?(храни|обрабатыва|есть|у вас)",
        r"копи\w* (мо\w* )?(персональн\w* )?данн",
        r"\baccess (to )?(all )?(of )?my (personal )?(data|information)", r"subject access request", r"\bdsar\b",
        r"copy of (all )?(of )?(my|the) (personal )?(data|information)",
        r"what (personal )?(data|information) (do )?you (hold|have|keep|store|process)",
        r"деректер\w* (кол )?жеткиз", r"колжеткиз", r"деректер\w* коширме", r"кандай деректер",
    ),
    MARKETING_OPT_OUT: _rx(
        r"отпи[сш]", r"(не |прекрат\w* )(присыла|отправля|высыла|слат|рассыла)\w* (мне )?(рекламу|рассылк|реклам|новост|письм|sms|смс)",
        r"\bunsubscribe", r"\bopt(-| )?out\b", r"stop (sending|emailing)", r"no (more )?(marketing|newsletters?)",
        r"remove me from (the |your )?(mailing|marketing|newsletter)",
        r"жазылым\w* (бас тарт|токтат)", r"(жарнама|тарату|хабарлам)\w* (жибер\w* )?(кажет емес|жибермен|токтат|бас тарт)",
    ),
}

MARKER = "marker_phrase"
WORDING = "wording"
AMBIGUOUS = "ambiguous"
NOTHING = "no_intent"


@dataclass(frozen=True)
class Intent:
    type: str | None
    reason: str
    found: tuple = ()


def kinds_in(text):
    """Every request kind whose wording occurs in `text` (folded)."""
    folded = fold(text)
    if any(p.search(folded) for p in MARKER_PATTERNS):
        return (CONSENT_WITHDRAWAL,)
    found = [kind for kind, patterns in TYPE_PATTERNS.items() if any(p.search(folded) for p in patterns)]
    if UNBLOCKING in found and BLOCKING in found:
        found.remove(BLOCKING)
    return tuple(found)


def detect(text):
    """The request `text` asks for: the 5.3 marker wins; exactly one other kind is that kind; else None (triage)."""
    folded = fold(text)
    if any(p.search(folded) for p in MARKER_PATTERNS):
        return Intent(CONSENT_WITHDRAWAL, MARKER, (CONSENT_WITHDRAWAL,))
    found = kinds_in(folded)
    if len(found) == 1:
        return Intent(found[0], WORDING, found)
    if found:
        return Intent(None, AMBIGUOUS, found)
    return Intent(None, NOTHING, ())


_KAZAKH_ONLY = re.compile(r"[қүұөәіңғһ]")
_CYRILLIC_ANY = re.compile(r"[а-яё]", re.IGNORECASE)
_KAZAKH_WORDS = re.compile(r"\b(деректер\w*|отиниш|келисим\w*|сураймын|рахмет|сизд\w*|менин|туралы)\b")


def language_of(text):
    """kk, ru or en: the language a reply should be written in when the client's preference is unknown."""
    text = text or ""
    if _KAZAKH_ONLY.search(text.lower()) or _KAZAKH_WORDS.search(fold(text)):
        return "kk"
    if _CYRILLIC_ANY.search(text):
        return "ru"
    return "en"
