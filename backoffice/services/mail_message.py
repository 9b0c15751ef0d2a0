"""Read one e-mail safely (stdlib `email`, policy=default): whatever arrives, a ParsedMail comes out, never a crash.

Malformed MIME, wrong or unknown charsets, HTML-only bodies (turned into plain text; scripts and styles dropped,
nothing is ever rendered), huge attachments (sizes known, bytes kept up to a limit, archives never opened) and
CR/LF smuggled into headers are all expected input.
"""
import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

MAX_TEXT_CHARS = 200_000
MAX_HEADERS_CHARS = 64_000
MAX_PARTS = 200
FALLBACK_CHARSETS = ("utf-8", "cp1251", "koi8-r", "iso-8859-5", "cp866")


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    size: int
    content: bytes | None


@dataclass
class ParsedMail:
    message_key: str
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    date: dt.datetime | None
    arrived: dt.datetime | None  # the top Received header: when our side got it
    new_text: str  # what the sender wrote in this message (quotes of a reply removed)
    quoted_text: str  # quoted reply history and forwarded messages
    forwarded: bool
    reply: bool
    in_reply_to: tuple
    auto_reason: str | None  # auto-reply, bounce, list mail: not a request
    headers_text: str
    attachments: list = field(default_factory=list)
    defects: int = 0

    @property
    def text(self):
        return "\n".join(t for t in (self.subject, self.new_text, self.quoted_text) if t)


class _TextExtractor(HTMLParser):
    """HTML to plain text: tags dropped, script/style content dropped, block elements become line breaks."""

    _SKIP = {"script", "style", "head", "title", "template", "noscript", "iframe", "object"}
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip, self.quote_depth = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "blockquote":
            self.quote_depth += 1

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1

    def handle_data(self, data):
        if self._skip:
            return
        if self.quote_depth:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(markup):
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient; anything it still refuses becomes escaped-free text
        return re.sub(r"<[^>]*>", " ", html.unescape(markup))
    text = "".join(parser.parts)
    return re.sub(r"\n[ \t]*\n[\s]*", "\n\n", text).strip()


def _decode(payload, declared):
    """Bytes to text with the declared charset if it decodes cleanly, else the usual Cyrillic suspects."""
    tried = []
    for charset in ((declared,) if declared else ()) + FALLBACK_CHARSETS:
        if not charset or charset in tried:
            continue
        tried.append(charset)
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", "replace")


def _part_text(part):
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        payload = b""
    if not isinstance(payload, bytes):
        payload = str(payload).encode("utf-8", "replace")
    charset = None
    try:
        charset = part.get_content_charset()
    except Exception:
        pass
    text = _decode(payload, charset)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text):
    """Text safe to store anywhere: no NUL (PostgreSQL refuses it) nor other control characters but tab/newline."""
    return _CONTROL.sub("", text) if text else text


def _unsurrogate(text):
    """Raw 8-bit header bytes arrive as surrogate escapes: decode them as UTF-8 (or a Cyrillic fallback)."""
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _decode(text.encode("utf-8", "surrogateescape"), None)


def _header(msg, name):
    try:
        value = msg.get(name)
    except Exception:
        try:
            value = msg.get_all(name, [None])[0]
        except Exception:
            value = None
    if value is None:
        return None
    return " ".join(_unsurrogate(value).split())


def _address(msg):
    try:
        raw = _header(msg, "From") or ""
        name, addr = parseaddr(raw)
    except Exception:
        return None, None
    addr = addr.strip().strip("<>") or None
    if addr and ("@" not in addr or len(addr) > 254 or any(c in addr for c in " \r\n,;")):
        addr = None
    return addr, (name.strip()[:200] or None)


def _date(value):
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    try:
        return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None


def _received_date(msg):
    try:
        received = msg.get_all("Received") or []
    except Exception:
        return None
    if not received:
        return None
    top = str(received[0])
    return _date(top.rsplit(";", 1)[-1].strip()) if ";" in top else None


def _auto_reason(msg):
    auto = (_header(msg, "Auto-Submitted") or "no").lower()
    if auto != "no":
        return "auto_reply"
    if (_header(msg, "Precedence") or "").lower() in ("bulk", "junk", "list", "auto_reply"):
        return "bulk"
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return "auto_reply"
    if msg.get_content_type() == "multipart/report":
        return "bounce"
    sender = (_header(msg, "From") or "").lower()
    if "mailer-daemon@" in sender or "postmaster@" in sender:
        return "bounce"
    return None


_REPLY_HEADER = re.compile(
    r"^(-{2,}\s*(original message|исходное сообщение|бастапкы хабарлама)\s*-{2,}"
    r"|on .{0,200} wrote:|.{0,200}(написал|написала|пишет|жазды)\s*\(?а?\)?:)\s*$",
    re.IGNORECASE)
_FORWARD_HEADER = re.compile(
    r"^-{2,}\s*(forwarded message|пересланное сообщение|начало пересылаемого сообщения|кайта жиберилген хабарлама"
    r"|қайта жіберілген хабарлама)\s*-{2,}\s*$|^begin forwarded message:\s*$", re.IGNORECASE)


def split_thread(text):
    """(what this message says, quoted/forwarded history, forwarded?) of a plain-text body."""
    new, old, forwarded = [], [], False
    target = new
    for line in text.splitlines():
        stripped = line.strip()
        if target is new and _FORWARD_HEADER.match(stripped):
            forwarded, target = True, old
            continue
        if target is new and _REPLY_HEADER.match(stripped):
            target = old
            continue
        if stripped.startswith(">"):
            old.append(stripped.lstrip("> "))
        else:
            target.append(line)
    return "\n".join(new).strip(), "\n".join(old).strip(), forwarded


def _walk(msg):
    """Leaf parts of a message, bounded; embedded message/rfc822 parts are walked too (forwards as attachment)."""
    count = 0
    for part in msg.walk():
        count += 1
        if count > MAX_PARTS:
            return
        if part.is_multipart():
            continue
        yield part


def message_key(message_id, raw):
    if message_id:
        token = message_id.strip().strip("<>").strip().lower()
        if token:
            return hashlib.sha256(("mid:" + token).encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def parse(raw, attachment_limit=5 * 1024 * 1024):
    """A ParsedMail for the message's bytes; attachment bytes above `attachment_limit` are not kept."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    msg = message_from_bytes(raw, policy=policy.default)
    message_id = _header(msg, "Message-ID")
    if message_id:
        message_id = message_id[:998]
    sender, sender_name = _address(msg)
    subject = (_header(msg, "Subject") or "")[:1000]
    texts, htmls, attachments, forwarded_parts = [], [], [], []
    for part in _walk(msg):
        try:
            disposition = part.get_content_disposition()
            filename = part.get_filename()
        except Exception:
            disposition, filename = "attachment", None
        content_type = part.get_content_type()
        inline_text = content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename
        if inline_text:
            # A text part inside an attached message/rfc822 is a forwarded message.
            in_forward = any(p is not msg and p.get_content_type() == "message/rfc822" for p in _parents(msg, part))
            (forwarded_parts if in_forward else (texts if content_type == "text/plain" else htmls)).append(
                _part_text(part))
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:
            payload = b""
        if not isinstance(payload, bytes):
            payload = b""
        attachments.append(Attachment(filename=(filename or None) and str(filename)[:255],
                                      content_type=content_type[:100], size=len(payload),
                                      content=payload if len(payload) <= attachment_limit else None))
    body = "\n\n".join(t for t in texts if t.strip()) or "\n\n".join(t for t in htmls if t.strip())
    body = body[:MAX_TEXT_CHARS]
    new_text, quoted_text, forwarded = split_thread(body)
    if forwarded_parts:
        forwarded = True
        quoted_text = "\n\n".join([quoted_text] + forwarded_parts).strip()[:MAX_TEXT_CHARS]
    lowered_subject = subject.lower()
    if re.match(r"^\s*(fwd?|fw|пересл\w*|переадресовано)\s*:", lowered_subject):
        forwarded = True
    reply = bool(re.match(r"^\s*(re|на|ответ|жауап)\s*:", lowered_subject)) or bool(_header(msg, "In-Reply-To"))
    in_reply_to = tuple(token for token in re.findall(r"<[^<>\s]{1,250}>",
                                                      (_header(msg, "In-Reply-To") or "") + " "
                                                      + (_header(msg, "References") or "")))
    headers_lines = []
    try:
        for name, value in msg.raw_items():
            headers_lines.append(f"{_unsurrogate(name)}: {' '.join(_unsurrogate(value).split())}")
    except Exception:
        pass
    for item in attachments:
        item.filename = clean_text(item.filename)
    return ParsedMail(
        message_key=message_key(message_id, raw), message_id=clean_text(message_id), sender=clean_text(sender),
        sender_name=clean_text(sender_name), subject=clean_text(subject), date=_date(_header(msg, "Date")),
        arrived=_received_date(msg), new_text=clean_text(new_text), quoted_text=clean_text(quoted_text),
        forwarded=forwarded, reply=reply, in_reply_to=in_reply_to, auto_reason=_auto_reason(msg),
        headers_text=clean_text("\n".join(headers_lines)[:MAX_HEADERS_CHARS]), attachments=attachments,
        defects=len(getattr(msg, "defects", []) or []),
    )


def unreadable(raw):
    """A ParsedMail for bytes the parser refused: kept for triage under a hash of its bytes."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    return ParsedMail(message_key=message_key(None, raw), message_id=None, sender=None, sender_name=None,
                      subject="", date=None, arrived=None, new_text=clean_text(_decode(raw[:MAX_TEXT_CHARS], None)),
                      quoted_text="", forwarded=False, reply=False, in_reply_to=(), auto_reason=None,
                      headers_text="")


def _parents(root, target):
    """The chain of containers from `root` down to `target` (MIME trees are small and bounded by MAX_PARTS)."""
    path = []

    def visit(node, trail):
        if node is target:
            path.extend(trail)
            return True
        if node.is_multipart():
            for child in node.iter_parts() if hasattr(node, "iter_parts") else node.get_payload():
                if visit(child, trail + [node]):
                    return True
        return False

    try:
        visit(root, [])
    except Exception:
        return []
    return path


def recipients(value):
    """Addresses of a To/Cc header (used to tell our own mailbox's letters apart)."""
    return [addr for _, addr in getaddresses([value or ""]) if addr]
