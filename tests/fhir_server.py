"""A small FHIR R4 server for tests and local demos: read and search over resources loaded from files.

    python tests/fhir_server.py --port 8090 --data fhir_samples --data ../shared/data/synthea

Serves `GET {base}/metadata` (a CapabilityStatement, FHIR 4.0.1), `GET {base}/{Type}/{id}`, and searches —
`GET {base}/{Type}?…` or `POST {base}/{Type}/_search` (form-encoded body, merged with the query string, as
the CDS Hooks sandbox sends its prefetch) — with the search parameters the service's prefetch templates use:
`patient`/`subject`, `code` (token list, `system|code` or `code`), `status`, `clinical-status`, `_count` and
paging through `next` links (`_getpagesoffset`). Bundles on disk are loaded like a transaction: `urn:uuid:`
references become `Type/id`. Browsers may call it from any origin: every answer carries
`Access-Control-Allow-Origin: *` and CORS preflight (`OPTIONS`) is answered.

Test controls (never part of FHIR): `PUT /__control` with a JSON object — `delay` (seconds before every
answer), `token` (required bearer token: 401 without it), `fail` ({Type: HTTP status} answered with an
OperationOutcome), `outcome` ([Type] answered 200 with an OperationOutcome), `page_size` (default _count) —
`DELETE /__control` resets it; `GET /__requests` lists the requests seen (path and Authorization header),
`DELETE /__requests` clears them.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BASE_PATH = "/fhir"
DEFAULTS: dict[str, Any] = {"delay": 0.0, "token": None, "fail": {}, "outcome": [], "page_size": 50}


class Store:
    """Resources by type and id, with urn:uuid references rewritten to Type/id."""

    def __init__(self) -> None:
        self.by_type: dict[str, dict[str, dict[str, Any]]] = {}

    def load(self, path: Path) -> None:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                doc = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if not isinstance(doc, dict) or "resourceType" not in doc:
                continue
            if doc["resourceType"] == "Bundle" and doc.get("type") in ("transaction", "collection", "batch"):
                self._load_bundle(doc)
            elif doc["resourceType"] not in ("Bundle",) and doc.get("id"):
                self.by_type.setdefault(doc["resourceType"], {})[doc["id"]] = doc

    def _load_bundle(self, bundle: dict[str, Any]) -> None:
        urls = {}
        for e in bundle.get("entry", []):
            r = e.get("resource") or {}
            if e.get("fullUrl") and r.get("id"):
                urls[e["fullUrl"]] = f"{r['resourceType']}/{r['id']}"
        for e in bundle.get("entry", []):
            r = e.get("resource") or {}
            if r.get("resourceType") and r.get("id"):
                self.by_type.setdefault(r["resourceType"], {})[r["id"]] = _rewrite(r, urls)


def _rewrite(node: Any, urls: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (urls.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, urls))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v, urls) for v in node]
    return node


def _codes(concept: Any) -> list[tuple[str | None, str | None]]:
    if not isinstance(concept, dict):
        return []
    return [(c.get("system"), c.get("code")) for c in concept.get("coding", []) if isinstance(c, dict)]


def _matches(resource: dict[str, Any], params: dict[str, list[str]]) -> bool:
    for name, values in params.items():
        wanted = [v for value in values for v in value.split(",")]
        if name in ("patient", "subject"):
            ref = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
            if not any(ref in (w, f"Patient/{w}") for w in wanted):
                return False
        elif name == "code":
            codes = _codes(resource.get("code"))
            if not any(
                (system, code) in codes if "|" in w else any(c == w for _, c in codes)
                for w in wanted
                for system, _, code in [w.partition("|")]
            ):
                return False
        elif (name == "status" and resource.get("status") not in wanted) or (
            name == "clinical-status" and not any(code in wanted for _, code in _codes(resource.get("clinicalStatus")))
        ):
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    server: FhirServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/fhir+json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        """CORS preflight: any origin, the methods a FHIR client reads with, whatever headers it asks for."""
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "Authorization, Content-Type, Accept")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _outcome(self, status: int, code: str, text: str) -> None:
        self._send(
            status,
            {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]},
        )

    def do_PUT(self) -> None:
        if self.path == "/__control":
            length = int(self.headers.get("Content-Length", "0"))
            with self.server.lock:
                self.server.control = {**DEFAULTS, **json.loads(self.rfile.read(length) or b"{}")}
            self._send(200, self.server.control, "application/json")
        else:
            self._send(405, _outcome("not-supported", "read-only server"))

    def do_DELETE(self) -> None:
        with self.server.lock:
            if self.path == "/__control":
                self.server.control = dict(DEFAULTS)
            elif self.path == "/__requests":
                self.server.seen.clear()
        self._send(200, {}, "application/json")

    def do_GET(self) -> None:
        if self.path == "/__requests":
            with self.server.lock:
                self._send(200, list(self.server.seen), "application/json")
            return
        self._handle("GET", "")

    def do_POST(self) -> None:
        """`POST {base}/{Type}/_search`: a search whose parameters come in a form-encoded body."""
        length = int(self.headers.get("Content-Length", "0"))
        form = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self._handle("POST", form)

    def _handle(self, method: str, form: str) -> None:
        with self.server.lock:
            seen = {"path": self.path, "authorization": self.headers.get("Authorization")}
            self.server.seen.append(seen if method == "GET" else {**seen, "method": method, "form": form})
        control = self.server.control
        if control["delay"]:
            time.sleep(float(control["delay"]))
        status, body = self._answer(control, method, form)
        self._send(status, body)

    def _answer(self, control: dict[str, Any], method: str = "GET", form: str = "") -> tuple[int, dict[str, Any]]:
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.removeprefix(BASE_PATH).split("/") if p]
        rtype = parts[0] if parts else ""
        search_post = method == "POST" and len(parts) == 2 and parts[1] == "_search"
        if not url.path.startswith(BASE_PATH):
            status, body = 404, _outcome("not-found", "unknown path")
        elif control["token"] and self.headers.get("Authorization") != f"Bearer {control['token']}":
            status, body = 401, _outcome("login", "a valid bearer token is required")
        elif method == "POST" and not search_post:
            status, body = 405, _outcome("not-supported", "read-only server: POST is only {Type}/_search")
        elif parts == ["metadata"]:
            status, body = (
                200,
                {
                    "resourceType": "CapabilityStatement",
                    "status": "active",
                    "kind": "instance",
                    "fhirVersion": "4.0.1",
                    "format": ["json"],
                    "date": "2026-11-22",
                },
            )
        elif rtype in control["fail"]:
            status, body = int(control["fail"][rtype]), _outcome("exception", f"{rtype} search failed on purpose")
        elif rtype in control["outcome"]:
            status, body = 200, _outcome("too-costly", f"{rtype} query too costly")
        elif search_post:
            query = "&".join(q for q in (url.query, form) if q)
            status, body = 200, self._search(rtype, query, control)
        elif len(parts) == 2:
            found = self.server.store.by_type.get(rtype, {}).get(parts[1])
            status, body = (200, found) if found else (404, _outcome("not-found", f"{rtype}/{parts[1]} not found"))
        else:
            status, body = 200, self._search(rtype, url.query, control)
        return status, body

    def _search(self, rtype: str, query: str, control: dict[str, Any]) -> dict[str, Any]:
        params = urllib.parse.parse_qs(query)
        count = int(params.pop("_count", [control["page_size"]])[0])
        offset = int(params.pop("_getpagesoffset", ["0"])[0])
        params.pop("_sort", None)
        resources = self.server.store.by_type.get(rtype, {})
        matches = [r for _, r in sorted(resources.items()) if _matches(r, params)]
        base = f"http://{self.headers.get('Host')}{BASE_PATH}"
        links = [{"relation": "self", "url": f"{base}/{rtype}?{query}"}]
        if offset + count < len(matches):
            next_query = urllib.parse.urlencode(
                {**{k: ",".join(v) for k, v in params.items()}, "_count": count, "_getpagesoffset": offset + count}
            )
            links.append({"relation": "next", "url": f"{base}/{rtype}?{next_query}"})
        entries = [
            {"fullUrl": f"{base}/{rtype}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in matches[offset : offset + count]
        ]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "link": links, "entry": entries}


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


class FhirServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        super().__init__(address, Handler)
        self.store = store
        self.lock = threading.Lock()
        self.control: dict[str, Any] = dict(DEFAULTS)
        self.seen: list[dict[str, Any]] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--data", action="append", type=Path, default=[], help="file or folder of JSON (repeatable)")
    args = parser.parse_args()
    store = Store()
    for path in args.data:
        store.load(path)
    server = FhirServer((args.host, args.port), store)
    print(f"FHIR test server on http://{args.host}:{args.port}{BASE_PATH}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
