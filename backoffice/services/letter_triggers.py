"""Which lifecycle step writes which letter, in the step's own transaction (so no step goes without its letter).

Listens to the ORM's flushes for new timeline events (RequestEvent) — the one record every step writes, whoever
takes it (staff, job, CLI) — and puts the letters the step calls for into the outbox before the flush.
"""
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..models.jobs import ExportPackage
from ..models.requests import ACCESS, PrivacyRequest, RequestEvent
from . import download_links, letters


def _on_flush(session, _context, _instances):
    steps = [obj for obj in session.new if isinstance(obj, RequestEvent)]
    if not steps:
        return
    with session.no_autoflush:
        for step in steps:
            req = session.get(PrivacyRequest, step.request_id)
            if req is None:
                continue
            if step.action == "complete" and req.type == ACCESS and req.client_id is not None:
                package = session.execute(select(ExportPackage).where(ExportPackage.request_id == req.id)
                                          .order_by(ExportPackage.id.desc()).limit(1)).scalar_one_or_none()
                if package is not None:
                    download_links.offer(req, package, session=session)
                continue
            for key in letters.letters_for_step(req, step.action):
                letters.queue(req, key, session=session, reason=step.comment or "")


def init_app(app):
    """Registered once per process on the Session class (every app's sessions)."""
    if not event.contains(Session, "before_flush", _on_flush):
        event.listen(Session, "before_flush", _on_flush)
