"""Where a request's time goes: pyinstrument over the WSGI app, no server or client in the picture.

.venv/bin/python -m bench.profile                 # patient-view with the typical prefetch
.venv/bin/python -m bench.profile --requests 500 --path /evaluate --body shared/.../record.json
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from werkzeug.test import EnvironBuilder

from .__main__ import NOW, typical_prefetch


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/cds-services/magnesium-leg-symptoms")
    parser.add_argument("--body", type=Path, help="request body (default: the typical patient-view prefetch)")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update({"CDS_AUTH_MODE": "off", "CDS_FIXED_NOW": NOW, "CDS_LOG_LEVEL": "WARNING"})
    from service import create_app  # noqa: PLC0415 (after the environment is set)

    with tempfile.TemporaryDirectory() as tmp:
        body = (args.body or typical_prefetch(Path(tmp))).read_bytes()
    app = create_app()
    gc.freeze()  # as gunicorn.conf.py does in each worker
    environ = EnvironBuilder(path=args.path, method="POST", data=body, content_type="application/json").get_environ()

    def call() -> None:
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(line)
            return lambda data: None

        chunks = app.wsgi_app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(chunks)
        if not status[0].startswith("200"):
            raise SystemExit(f"{args.path} answered {status[0]}")

    for _ in range(100):
        call()
    profiler = Profiler(interval=0.0002)
    with profiler:
        for _ in range(args.requests):
            call()
    print(profiler.output_text(color=False, unicode=True))


if __name__ == "__main__":
    main()
