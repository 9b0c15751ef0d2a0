"""Writes the e-mail corpus (tests/data/mail/*.eml) and expected.json. Run once; the output is committed.

    python tests/data/mail/make_corpus.py

Each message is built byte by byte (not through EmailMessage) so that its encoding is exactly the one named.
"""
import base64
import io
import json
import quopri
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = []


def header_b64(text, charset="utf-8"):
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def body(text, *, ctype="text/plain", charset="utf-8", cte="8bit"):
    raw = text.encode(charset) if isinstance(text, str) else text
    if cte == "base64":
        payload = base64.encodebytes(raw)
    elif cte == "quoted-printable":
        payload = quopri.encodestring(raw)
    else:
        payload = raw
    head = f"Content-Type: {ctype}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: {cte}\r\n"
    return head.encode(), payload


def message(name, expected, type_=None, *, subject="", sender="client@example.kz", text="", charset="utf-8",
            cte="8bit", ctype="text/plain", extra_headers=(), raw_body=None, message_id=True, note=""):
    headers = [f"From: {sender}", "To: privacy@bekair.kz", f"Date: Tue, 01 Dec 2026 09:{len(CASES):02d}:00 +0500"]
    if subject:
        headers.append(f"Subject: {subject}")
    if message_id:
        headers.append(f"Message-ID: <{name}@corpus.example.kz>")
    headers.append("MIME-Version: 1.0")
    headers.extend(extra_headers)
    if raw_body is not None:
        data = ("\r\n".join(headers) + "\r\n").encode() + raw_body
    else:
        head, payload = body(text, ctype=ctype, charset=charset, cte=cte)
        data = ("\r\n".join(headers) + "\r\n").encode() + head + b"\r\n" + payload
    (HERE / f"{name}.eml").write_bytes(data)
    CASES.append({"file": f"{name}.eml", "outcome": expected, "type": type_, "note": note})


def multipart(parts, subtype="mixed", boundary="==b1=="):
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()]
    for head, payload in parts:
        out.append(f"--{boundary}\r\n".encode() + head + b"\r\n" + payload + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def attachment(filename, content, ctype="application/octet-stream"):
    head = (f"Content-Type: {ctype}; name=\"{filename}\"\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n").encode()
    return head, base64.encodebytes(content)


RU = "Прошу принять отзыв согласия на обработку персональных данных. С уважением, Иван Петров"
KK = "Сәлеметсіз бе! Дербес деректерді өңдеуге арналған келісімді қайтарып алу туралы өтініш. Айгерім Нұрланқызы"
KK_LOOKALIKE = "Салеметсиз бе! Дербес деректерди ондеуге арналган келисимди кайтарып алу туралы отиниш."
EN = "Hello, this is my withdrawal of consent to personal data processing. Regards, John Smith"


NEEDS_DETAILS = "a rectification needs the new values: triage, with the kind suggested"


def build():
    # --- consent withdrawal: the 5.3 marker phrase, every encoding and shape ---
    message("ru_marker_8bit", "created", "consent_withdrawal", subject=header_b64("Заявление"), text=RU)
    message("ru_marker_qp", "created", "consent_withdrawal", subject=header_b64("Отзыв"), text=RU,
            cte="quoted-printable")
    message("ru_marker_base64", "created", "consent_withdrawal", subject="Request", text=RU, cte="base64")
    message("ru_marker_cp1251", "created", "consent_withdrawal", subject=header_b64("Отзыв", "windows-1251"),
            text=RU, charset="windows-1251", cte="quoted-printable")
    message("ru_marker_koi8r", "created", "consent_withdrawal", text=RU, charset="koi8-r", cte="8bit")
    message("ru_marker_subject_only", "created", "consent_withdrawal",
            subject=header_b64("Отзыв согласия на обработку персональных данных"), text="")
    message("ru_marker_caps_breaks_quotes", "created", "consent_withdrawal", subject="Hello",
            text="Здравствуйте.\r\nНастоящим направляю «ОТЗЫВ   СОГЛАСИЯ\r\nна  обработку\r\n"
                 "ПЕРСОНАЛЬНЫХ данных».\r\n")
    message("ru_marker_wrong_charset_label", "created", "consent_withdrawal", text=RU.encode("cp1251"),
            charset="utf-8", cte="8bit", note="declared utf-8, bytes are cp1251")
    message("kk_marker_proper", "created", "consent_withdrawal", subject=header_b64("Өтініш"), text=KK,
            cte="base64")
    message("kk_marker_lookalikes", "created", "consent_withdrawal", text=KK_LOOKALIKE, cte="quoted-printable")
    message("kk_marker_html_only", "created", "consent_withdrawal", ctype="text/html", cte="quoted-printable",
            text=f"<html><body><p>{KK.replace('келісімді', '<b>КЕЛІСІМДІ</b>')}</p></body></html>")
    message("kk_marker_mixed_latin", "created", "consent_withdrawal",
            text="Дербес дeректерді өңдеуге арналғaн келісімді қайтaрып алу", note="Latin a/e inside words")
    message("en_marker_plain", "created", "consent_withdrawal", subject="Privacy", text=EN)
    message("en_marker_subject_caps", "created", "consent_withdrawal",
            subject="WITHDRAWAL OF CONSENT TO PERSONAL DATA PROCESSING", text="Please confirm.")
    message("en_marker_html_script", "created", "consent_withdrawal", ctype="text/html",
            text="<html><head><script>alert('x')</script><style>p{}</style></head>"
                 "<body><p>&ldquo;Withdrawal of consent to personal&nbsp;data processing&rdquo;</p>"
                 "<img src=x onerror=alert(1)></body></html>")
    message("en_marker_alternative", "created", "consent_withdrawal", raw_body=multipart([
        body(EN), body(f"<p>{EN}</p>", ctype="text/html", cte="base64")], subtype="alternative"))
    message("en_marker_forward_inline", "created", "consent_withdrawal", subject="Fwd: my request",
            text="See below.\r\n\r\n---------- Forwarded message ---------\r\nFrom: me\r\n\r\n" + EN)
    forwarded = ("From: ivan@example.kz\r\nSubject: old\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n" + RU).encode()
    message("ru_marker_forward_attached", "created", "consent_withdrawal", subject=header_b64("Пересылаю"),
            raw_body=multipart([body("Пересылаю своё письмо."),
                                (b"Content-Type: message/rfc822\r\n", forwarded)]))
    message("ru_marker_reply_new_text", "created", "consent_withdrawal", subject=header_b64("Re: Ваш вопрос"),
            extra_headers=["In-Reply-To: <nothing-we-sent@example.kz>"],
            text="Повторно направляю отзыв согласия на обработку персональных данных.\r\n\r\n"
                 "01.12.2026, Bek Air пишет:\r\n> Чем можем помочь?\r\n")

    # --- the other request kinds by their usual wordings ---
    message("ru_access", "created", "access", subject=header_b64("Запрос"),
            text="Прошу предоставить мне сведения о моих персональных данных, которые вы обрабатываете.")
    message("en_access", "created", "access", subject="Subject access request",
            text="Please send me a copy of my personal data.")
    message("kk_access", "created", "access", cte="base64",
            text="Менің дербес деректеріме қол жеткізуді сұраймын.")
    message("ru_rectification", "triage", "rectification", cte="quoted-printable",
            text="Прошу исправить мои персональные данные: фамилия написана с ошибкой.")
    message("en_rectification", "triage", "rectification", text="Please correct my name, it is misspelled.", note=NEEDS_DETAILS)
    message("kk_rectification", "triage", "rectification", text="Тегімді түзетуді сұраймын.", note=NEEDS_DETAILS)
    message("ru_blocking", "created", "blocking", text="Прошу заблокировать мои персональные данные до решения суда.")
    message("en_blocking", "created", "blocking", text="Please restrict processing of my data and block my data.")
    message("kk_blocking", "created", "blocking", text="Дербес деректерімді бұғаттауды сұраймын.")
    message("en_unblocking", "created", "unblocking", text="Please unblock my data, the dispute is over.")
    message("ru_erasure", "created", "erasure", cte="base64", text="Прошу удалить мои персональные данные и аккаунт.")
    message("en_erasure", "created", "erasure", text="Please delete my account and all my data.")
    message("kk_erasure", "created", "erasure", text="Менің дербес деректерімді жоюды сұраймын.")
    message("ru_unsubscribe", "created", "marketing_opt_out", text="Отпишите меня от рекламной рассылки.")
    message("en_unsubscribe", "created", "marketing_opt_out", subject="unsubscribe", text="")
    message("kk_unsubscribe", "created", "marketing_opt_out",
            text="Жарнама хабарламаларын жібермеңіз, жазылымнан бас тартамын.")

    # --- unclear: the triage queue, never dropped ---
    message("ru_unclear_question", "triage", None, text="Здравствуйте, сколько стоит провоз багажа?")
    message("en_ambiguous_two_kinds", "triage", None,
            text="Please send me a copy of my personal data and also unsubscribe me from newsletters.")
    message("ru_reply_quoting_marker", "triage", None, subject=header_b64("Re: Ваше обращение получено"),
            extra_headers=["In-Reply-To: <letter-1@bekair.kz>"],
            text="Спасибо!\r\n\r\nOn Tue, 1 Dec 2026 Bek Air wrote:\r\n> Мы получили ваш отзыв согласия на "
                 "обработку персональных данных.\r\n", note="the request is only in the quote")
    message("empty_message", "triage", None, text="")
    message("hostile_script_only_html", "triage", None, ctype="text/html",
            text="<script>var s='withdrawal of consent to personal data processing';</script><p>hi</p>",
            note="the marker is only inside a script: never read as text")

    # --- not requests: ignored (recorded, no request) ---
    message("auto_reply_out_of_office", "ignored", None, subject="Automatic reply: Out of office",
            extra_headers=["Auto-Submitted: auto-replied"], text="I am out of office. " + EN)
    message("bounce_report", "ignored", None, sender="MAILER-DAEMON@mx.example.kz", raw_body=multipart([
        body("Delivery failed."), (b"Content-Type: message/delivery-status\r\n", b"Status: 5.1.1\r\n")],
        subtype="report; report-type=delivery-status"))
    message("own_letter_loop", "ignored", None, sender="privacy@bekair.kz", text=EN)
    message("bulk_newsletter", "ignored", None, extra_headers=["Precedence: bulk"], text="Unsubscribe here.")

    # --- hostile ---
    message("hostile_malformed_mime", "created", "consent_withdrawal",
            raw_body=(b"Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n--never-closed\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + RU.encode() + b"\r\n--wrong-boundary\r\n"))
    message("hostile_unknown_charset", "created", "consent_withdrawal", text=RU.encode("utf-8"),
            charset="x-no-such-charset")
    message("hostile_header_injection", "triage", None,
            subject=header_b64("Hello\r\nBcc: victim@example.com\r\nX-Evil: 1"), text="Hello.",
            note="encoded CR/LF in the subject stays inside the subject")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("../../etc/passwd", "root:x:0:0")
    message("hostile_zip_attachment", "created", "erasure", raw_body=multipart([
        body("Please delete my data. Documents attached."), attachment("docs.zip", zipped.getvalue(),
                                                                        "application/zip")]))
    message("hostile_no_message_id", "created", "consent_withdrawal", message_id=False, text=EN,
            note="deduplicated by a hash of its bytes")
    message("hostile_invalid_from", "created", "consent_withdrawal", sender="\"Evil\" <not-an-address>", text=RU)
    message("hostile_binary_garbage", "triage", None, raw_body=bytes(range(256)) * 8)
    nested = body("Прошу удалить мои персональные данные.")
    for depth in range(60):
        nested = (f"Content-Type: multipart/mixed; boundary=\"n{depth}\"\r\n".encode(),
                  multipart([nested], boundary=f"n{depth}")[len(f"Content-Type: multipart/mixed; boundary=\"n{depth}\"\r\n\r\n"):])
    message("hostile_deep_nesting", "created", "erasure", raw_body=nested[0] + b"\r\n" + nested[1])
    message("hostile_long_header", "triage", None, subject="A" * 20000, text="hello")
    message("hostile_attachment_named_eml", "triage", None, raw_body=multipart([
        body("See file."), attachment("\"evil\r\nname<script>.html", b"<script>alert(1)</script>", "text/html")]))

    (HERE / "expected.json").write_text(json.dumps(CASES, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    for old in HERE.glob("*.eml"):
        old.unlink()
    build()
    print(f"{len(CASES)} messages")
