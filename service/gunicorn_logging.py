"""gunicorn's access log as JSON lines (one object per request, with the request id)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from gunicorn.glogging import Logger


class JsonLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """Writes each access-log entry as a JSON object; never headers or bodies."""

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
