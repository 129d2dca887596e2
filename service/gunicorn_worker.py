"""The gevent worker gunicorn.conf.py runs: gunicorn's own, plus a wall-clock deadline per connection.

gunicorn's sync workers are killed when stuck (`timeout`), but a gevent worker's connections have no such
limit: a client trickling its headers or body one byte at a time would hold its connection (one of the
worker's `worker_connections`) for ever. Here every connection must complete its request within `timeout`
seconds (30 by default); past that it gets a 408 OperationOutcome and is closed, with one log line.
"""

from __future__ import annotations

import contextlib
from typing import Any

import gevent
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from .gunicorn_logging import outcome_error


class RequestDeadline(BaseException):  # BaseException: Flask must not turn it into a 500
    """Raised in a connection's greenlet when its request took longer than the worker timeout."""


class DeadlineGeventWorker(GeventWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        with gevent.Timeout(self.cfg.timeout, RequestDeadline()):
            super().handle(listener, client, addr)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, RequestDeadline):
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning(
            "request from ip=%s not complete within %s s (slow client): 408, connection closed",
            (addr or ("",))[0],
            self.cfg.timeout,
        )
        with contextlib.suppress(Exception):
            util.write_nonblock(client, outcome_error(408, "Request Timeout"))
