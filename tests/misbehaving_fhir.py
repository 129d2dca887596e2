"""A FHIR server that misbehaves on purpose, in its own process, for the reliability tests.

    python tests/misbehaving_fhir.py --port 8091

It speaks HTTP/1.1 on raw sockets so it can do what real servers do on a bad day. `PUT /__control` with a
JSON object picks the behaviour for every later FHIR request (`DELETE /__control` resets it);
`GET /__requests` lists the requests seen (path, Authorization), `DELETE /__requests` clears them.

  mode "ok"              small valid answers: a Patient for reads, an empty searchset for searches
  mode "slow"            wait `delay` seconds, then answer as "ok"
  mode "dribble-headers" send the status line and headers one byte every 1/`rate` seconds
  mode "dribble-body"    send headers at once, then the body one byte every 1/`rate` seconds
  mode "huge"            searchsets of about `size` bytes per page, `pages` pages linked by `next`
  mode "next"            a searchset whose `next` link is `next_url` (to test where links may point)
  mode "outcome"         HTTP `status` with an OperationOutcome whose diagnostics are `text`
  mode "deep"            a Patient with an `extension` nested `depth` levels deep
  mode "redirect"        302 to `location`
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

DEFAULTS: dict[str, Any] = {
    "mode": "ok",
    "delay": 0.0,
    "rate": 1.0,
    "size": 1_000_000,
    "pages": 1,
    "next_url": "",
    "status": 500,
    "text": "",
    "depth": 200,
    "location": "",
}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.lock = threading.Lock()
        self.control: dict[str, Any] = dict(DEFAULTS)
        self.seen: list[dict[str, Any]] = []


class Handler(socketserver.StreamRequestHandler):
    server: Server

    def handle(self) -> None:
        try:
            line = self.rfile.readline(65537).decode("latin-1").strip()
            if not line:
                return
            method, target, _ = line.split(" ", 2)
            headers: dict[str, str] = {}
            while (h := self.rfile.readline(65537).decode("latin-1").strip()) != "":
                name, _, value = h.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", "0") or 0))
            self.route(method, target, headers, body)
        except (OSError, ValueError):
            return

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        if target == "/__control":
            with self.server.lock:
                if method == "PUT":
                    self.server.control = {**DEFAULTS, **json.loads(body or b"{}")}
                elif method == "DELETE":
                    self.server.control = dict(DEFAULTS)
                control = dict(self.server.control)
            return self.send(200, json.dumps(control).encode())
        if target == "/__requests":
            with self.server.lock:
                if method == "DELETE":
                    self.server.seen.clear()
                seen = list(self.server.seen)
            return self.send(200, json.dumps(seen).encode())
        with self.server.lock:
            self.server.seen.append({"path": target, "authorization": headers.get("authorization")})
            control = dict(self.server.control)
        self.misbehave(control, target, headers.get("host", ""))
        return None

    def misbehave(self, c: dict[str, Any], target: str, host: str) -> None:  # noqa: PLR0911
        mode = c["mode"]
        base = f"http://{host}/fhir"
        if mode == "slow":
            time.sleep(float(c["delay"]))
        if mode == "outcome":
            issue = {"severity": "error", "code": "exception", "diagnostics": c["text"]}
            return self.send(int(c["status"]), json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}))
        if mode == "redirect":
            return self.send(302, b"{}", extra=f"Location: {c['location']}\r\n")
        if mode == "huge":
            return self.send(200, huge_page(base, target, int(c["size"]), int(c["pages"])))
        if mode == "next":
            bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": [], "link": []}
            bundle["link"] = [{"relation": "next", "url": c["next_url"]}]
            return self.send(200, json.dumps(bundle).encode())
        data = ok_answer(target, deep=int(c["depth"]) if mode == "deep" else 0)
        if mode == "dribble-headers":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: {len(data)}\r\n\r\n"
            self.drip(head.encode(), float(c["rate"]))
            self.wfile.write(data)
            return None
        if mode == "dribble-body":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: {len(data)}\r\n\r\n"
            self.wfile.write(head.encode())
            self.wfile.flush()
            self.drip(data, float(c["rate"]))
            return None
        return self.send(200, data)

    def drip(self, data: bytes, rate: float) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(1.0 / rate)

    def send(self, status: int, data: bytes | str, extra: str = "") -> None:
        payload = data.encode() if isinstance(data, str) else data
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/fhir+json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: close\r\n{extra}\r\n"
        )
        self.wfile.write(head.encode() + payload)
        self.wfile.flush()


def ok_answer(target: str, deep: int = 0) -> bytes:
    path = urllib.parse.urlsplit(target).path.removeprefix("/fhir").strip("/").split("/")
    if len(path) == 2:
        resource: dict[str, Any] = {"resourceType": path[0], "id": path[1]}
        if path[0] == "Patient":
            resource.update(gender="female", birthDate="1960-01-01")
        if deep:
            ext: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
            for _ in range(deep):
                ext = {"url": "http://example.org/x", "extension": [ext]}
            resource["extension"] = [ext]
        return json.dumps(resource).encode()
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}).encode()


def huge_page(base: str, target: str, size: int, pages: int) -> bytes:
    url = urllib.parse.urlsplit(target)
    rtype = url.path.removeprefix("/fhir").strip("/").split("/")[0] or "Observation"
    page = int(urllib.parse.parse_qs(url.query).get("page", ["1"])[0])
    text = "x" * 10_000
    entries = [
        {
            "fullUrl": f"{base}/Observation/o{page}-{i}",
            "resource": {
                "resourceType": "Observation",
                "id": f"o{page}-{i}",
                "status": "final",
                "note": [{"text": text}],
            },
        }
        for i in range(max(1, size // 10_100))
    ]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries, "link": []}
    if page < pages:
        bundle["link"] = [{"relation": "next", "url": f"{base}/{rtype}?page={page + 1}"}]
    return json.dumps(bundle).encode()


class Process:
    """This server in a child process on a free loopback port, driven through its control endpoints
    (the reliability tests and bench/workers.py)."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.root}/fhir"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.control("DELETE", "/__control", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("misbehaving FHIR server did not start")

    def control(self, method: str, path: str, body: Any = None, timeout: float = 5) -> Any:
        """One request to a control endpoint (/__control, /__requests); its JSON answer, if any."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.root}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
        return json.loads(answer) if answer else None

    def behave(self, **control: Any) -> None:
        self.control("PUT", "/__control", control)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    server = Server((args.host, args.port))
    print(f"misbehaving FHIR server on http://{args.host}:{args.port}/fhir", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
