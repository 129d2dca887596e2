"""Where a request's time goes: pyinstrument over the WSGI app, no server or client in the picture.

.venv/bin/python -m bench.profile                 # patient-view with the typical prefetch: tree + stage table
.venv/bin/python -m bench.profile --requests 500 --path /evaluate --body shared/.../record.json

The stage table (µs per request, in-process, profiler overhead included) is what bench/RESULTS.md shows
under "Where the time goes"; the floor app (bench/floor_app.py) is profiled alike for comparison.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame
from werkzeug.test import EnvironBuilder

from service.runtime import settle_worker

from .__main__ import NOW, typical_prefetch

PATIENT_VIEW = "/cds-services/magnesium-leg-symptoms"
VALIDATION = "FHIR validation (plain validators of the generated models)"
# (stage, function names whose total time is the stage); nested stages are subtracted from their parent.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("strict JSON parse (also in the floor)", ("read_json",)),
    ("request schema (marshmallow)", ("_load",)),
    ("prefetch split", ("gather_prefetch",)),
    (VALIDATION, ("_validate",)),
    ("code/name matching", ("classify", "might_name", "by_name")),
    ("extraction: raw pre-filter, facts", ("extract",)),
    ("engine", ("evaluate", "evaluate_orders")),
    ("cards", ("compose",)),
    ("response JSON", ("json_response",)),
)


def _wsgi_caller(app: Any, path: str, body: bytes) -> Callable[[], None]:
    environ = EnvironBuilder(path=path, method="POST", data=body, content_type="application/json").get_environ()

    def call() -> None:
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(line)
            return lambda data: None

        chunks = app.wsgi_app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(chunks)
        if not status[0].startswith("200"):
            raise SystemExit(f"{path} answered {status[0]}")

    return call


def _frames(frame: Frame) -> Iterator[Frame]:
    yield frame
    for child in frame.children:
        yield from _frames(child)


def _outermost(frame: Frame, names: tuple[str, ...]) -> Iterator[Frame]:
    """Frames of the named functions, not counting one nested inside another (recursion)."""
    if frame.function in names:
        yield frame
        return
    for child in frame.children:
        yield from _outermost(child, names)


def stage_table(root: Frame, requests: int) -> list[tuple[str, float]]:
    """(stage, µs per request): each stage's own time, nested stages subtracted; the rest is framework."""
    totals: dict[str, float] = {}
    for stage, names in STAGES:
        totals[stage] = sum(f.time for f in _outermost(root, names))
    # Nesting: matching and validation run inside extraction; extraction inside nothing else listed.
    totals["extraction: raw pre-filter, facts"] -= totals[VALIDATION] + totals["code/name matching"]
    accounted = sum(totals.values())
    rows = [(stage, seconds * 1e6 / requests) for stage, seconds in totals.items()]
    rows.append(("Flask, werkzeug, logging, metrics (the rest)", (root.time - accounted) * 1e6 / requests))
    rows.append(("total", root.time * 1e6 / requests))
    return rows


def profile(app: Any, path: str, body: bytes, requests: int) -> tuple[Profiler, Frame]:
    call = _wsgi_caller(app, path, body)
    for _ in range(100):
        call()
    profiler = Profiler(interval=0.0002)
    with profiler:
        for _ in range(requests):
            call()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None:
        raise SystemExit("nothing was profiled")
    return profiler, root


def breakdown(requests: int, body: bytes | None = None, path: str = PATIENT_VIEW) -> dict[str, Any]:
    """Stage tables of the service and the floor app for one request body (default: typical prefetch)."""
    os.environ.update({"CDS_AUTH_MODE": "off", "CDS_FIXED_NOW": NOW, "CDS_LOG_LEVEL": "WARNING"})
    from service import create_app  # noqa: PLC0415 (after the environment is set)

    from .floor_app import create_app as create_floor  # noqa: PLC0415

    if body is None:
        with tempfile.TemporaryDirectory() as tmp:
            body = typical_prefetch(Path(tmp)).read_bytes()
    app, floor = create_app(), create_floor()
    settle_worker()  # as gunicorn.conf.py does in each worker (service/runtime.py)
    _, service_root = profile(app, path, body, requests)
    _, floor_root = profile(floor, path, body, requests)
    return {
        "requests": requests,
        "service": stage_table(service_root, requests),
        "floor_us": floor_root.time * 1e6 / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=PATIENT_VIEW)
    parser.add_argument("--body", type=Path, help="request body (default: the typical patient-view prefetch)")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update({"CDS_AUTH_MODE": "off", "CDS_FIXED_NOW": NOW, "CDS_LOG_LEVEL": "WARNING"})
    from service import create_app  # noqa: PLC0415 (after the environment is set)

    with tempfile.TemporaryDirectory() as tmp:
        body = (args.body or typical_prefetch(Path(tmp))).read_bytes()
    app = create_app()
    settle_worker()  # as gunicorn.conf.py does in each worker (service/runtime.py)
    profiler, root = profile(app, args.path, body, args.requests)
    print(profiler.output_text(color=False, unicode=True))
    print(f"{'stage':48s} µs/request")
    for stage, micros in stage_table(root, args.requests):
        print(f"{stage:48s} {micros:9.1f}")


if __name__ == "__main__":
    main()
