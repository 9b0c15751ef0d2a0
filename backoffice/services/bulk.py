"""A decision on a page of requests at once (issue 14): each request is checked and decided on its own.

Unlike `steps.assign` (all or nothing), approving or rejecting several requests applies the per-request rules —
the transition table and four-eyes (Law art. 10(2)) — to each one through `steps.take_step`, each in its own
transaction, and says for every request whether it was decided and, if not, why. The shared comment or reason is
checked once before anything is saved.
"""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from . import jobqueue
from .lifecycle import (JOB_NOT_QUEUED, MAX_TEXT, InvalidInput, JobNotQueued, WorkflowError, find_step, may_take,
                        note_job_not_queued)
from .steps import take_step

BULK_STEPS = ("approve", "reject")
MAX_BULK = 100


@dataclass
class Outcome:
    request_id: int
    done: bool
    reason: str = ""


def preview(reqs, step, by):
    """[(req, may?, reason)] — what a bulk `step` would do, for the confirmation page (nothing is saved)."""
    result = []
    for req in reqs:
        found = find_step(req, step)
        if found is None:
            result.append((req, False, str(_l("That step is not possible for this request now."))))
            continue
        allowed, reason = may_take(found, req, by)
        result.append((req, allowed, "" if allowed else str(reason)))
    return result


def decide_each(reqs, step, by, comment):
    """Take `step` ('approve' or 'reject') on each request with one comment/reason; [Outcome] in the given order.

    Raises InvalidInput (nothing saved) for an unknown step, no requests, too many, or a missing/over-long reason.
    """
    if step not in BULK_STEPS:
        raise InvalidInput(_l("That step is not possible for this request now."))
    reqs = list(reqs)
    if not reqs:
        raise InvalidInput(_l("Select at least one request."))
    if len(reqs) > MAX_BULK:
        raise InvalidInput(_l("Select at most %(n)s requests at once.", n=MAX_BULK))
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(_l("Give a reason."), {"comment": _l("This field is required.")})
    if len(comment) > MAX_TEXT:
        raise InvalidInput(_l("The text is too long."), {"comment": _l("At most %(n)s characters.", n=MAX_TEXT)})
    outcomes = []
    # The erasures approved here are carried out in batches, a savepoint per subject (issue 16).
    with jobqueue.erasure_batches() as batches:
        for req in reqs:
            try:
                take_step(req, step, by, comment=comment)
            except JobNotQueued as error:
                outcomes.append(Outcome(req.id, True, str(error)))
            except WorkflowError as error:
                outcomes.append(Outcome(req.id, False, str(error)))
            else:
                outcomes.append(Outcome(req.id, True))
        batches.push()
    for req in reqs:
        if req.id in batches.unpushed:
            note_job_not_queued(req, by, batches.error)
    not_queued = str(JOB_NOT_QUEUED)
    return [Outcome(o.request_id, o.done, not_queued) if o.request_id in batches.unpushed else o for o in outcomes]
