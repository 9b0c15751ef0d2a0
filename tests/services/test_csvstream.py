"""The one CSV writer: formula guard on every cell, streamed in chunks, same bytes whatever the chunk size."""
import csv
import datetime as dt
import io
from decimal import Decimal

from backoffice.services import csvstream


def test_cells_that_look_like_formulas_get_an_apostrophe():
    for value in ("=SUM(A1)", "+1", "-1", "@x", "\tx", "\rx"):
        assert csvstream.cell(value) == "'" + value
    assert csvstream.cell("ok") == "ok"
    assert csvstream.cell(None) == ""
    assert csvstream.cell(Decimal("-5.10")) == "'-5.10"
    assert csvstream.cell(dt.date(2026, 1, 2)) == "2026-01-02"
    assert csvstream.cell(dt.datetime(2026, 1, 2, 3, 4, 5), timespec="microseconds") == "2026-01-02T03:04:05.000000"
    assert csvstream.cell(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"


def test_stream_is_chunked_and_reads_back_the_same_rows():
    rows = [(n, f"=cmd{n}", "Жанар, \"Ж\"\nline") for n in range(2000)]
    chunks = list(csvstream.byte_chunks(("id", "formula", "text"), iter(rows), chunk_size=1024))
    assert len(chunks) > 10 and all(isinstance(c, bytes) for c in chunks)
    whole = b"".join(chunks)
    assert whole == b"".join(csvstream.byte_chunks(("id", "formula", "text"), iter(rows), chunk_size=10 ** 9))
    back = list(csv.reader(io.StringIO(whole.decode("utf-8"))))
    assert back[0] == ["id", "formula", "text"]
    assert back[1:] == [[str(n), f"'=cmd{n}", "Жанар, \"Ж\"\nline"] for n in range(2000)]


def test_write_counts_data_rows_and_omits_a_missing_header():
    out = io.StringIO()
    assert csvstream.write(out, None, [("a", 1), ("b", 2)]) == 2
    assert out.getvalue() == "a,1\r\nb,2\r\n"
    assert list(csvstream.text_chunks(None, [])) == []
