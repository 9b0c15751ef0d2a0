"""A clock fixture for sign-in throttles and session expiry: time moves when the test says, never by sleeping."""
import datetime as dt

import pytest

from backoffice.models.base import utcnow

# Modules whose `utcnow` decides throttling and expiry.
CLOCKED = ("backoffice.services.throttle", "backoffice.services.sessions", "backoffice.services.signin",
           "backoffice.services.second_factor")


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.utcnow", c)
    return c
