"""gunicorn's own output as JSON: the access log, the error log, and the errors gunicorn answers itself.

- Access log: one JSON object per request, with the request id; never headers or bodies.
- Error log (worker boots, timeouts, "Invalid request from ip=…"): one JSON object per line; a stack trace
  only for real errors, in an `exception` field, never spread over many lines.
- Errors gunicorn answers before the app sees the request (malformed request line 400, URI too long 414,
  header fields too large 431, bad chunked encoding 400, unsupported transfer coding 501) are
  OperationOutcome JSON like every other error of the service, instead of gunicorn's HTML page (and the
  408 of service/gunicorn_worker.py for a connection that outlived the worker timeout).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from gunicorn import util
from gunicorn.glogging import Logger

# FHIR IssueType per status gunicorn answers by itself.
_ISSUE_CODE = {
    400: "structure",
    403: "forbidden",
    408: "timeout",
    414: "too-long",
    417: "not-supported",
    431: "too-long",
}
_MESSAGE = {
    400: "The HTTP request is malformed (request line, headers or chunked encoding).",
    403: "The request is forbidden.",
    408: "The request was not received completely in time (gunicorn timeout); the connection is closed.",
    414: "The request line (URL) is too long.",
    417: "The Expect header is not supported.",
    431: "The request's header fields are too large or too many.",
    501: "The transfer coding is not supported.",
}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line (gunicorn's error log; service/events.py adds request fields).

    Nothing here imports Flask or the metrics: gunicorn.conf.py imports this module in the master before
    the Prometheus multiprocess directory is set."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        self.add_fields(record, line)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()

    def add_fields(self, record: logging.LogRecord, line: dict[str, Any]) -> None:
        """More fields for the line; none here."""


class JsonLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """Writes the error log and each access-log entry as JSON objects; never headers or bodies."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        headers = dict(resp.headers) if isinstance(resp.headers, list) else {}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "info",
            "logger": "gunicorn.access",
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "durationMs": round(request_time.total_seconds() * 1000, 2),
            "requestId": headers.get("X-Request-ID"),
            "remote": environ.get("REMOTE_ADDR"),
        }
        self.access_log.info(orjson.dumps(line).decode())


def outcome_error(status: int, reason: str) -> bytes:
    """The raw HTTP response gunicorn sends for an error it answers itself, as OperationOutcome JSON."""
    issue = {
        "severity": "error",
        "code": _ISSUE_CODE.get(status, "exception" if status >= 500 else "invalid"),
        "diagnostics": _MESSAGE.get(status, "The request could not be processed."),
    }
    body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    # mesg often echoes the offending request line or header: it goes to the log, never back to the client.
    util.write_nonblock(sock, outcome_error(int(status_int), str(reason)))


def install_json_errors() -> None:
    """Make gunicorn answer its own errors with OperationOutcome JSON (gunicorn calls util.write_error)."""
    util.write_error = _write_error
