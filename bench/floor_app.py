"""The HTTP floor: the same gunicorn configuration and the same request parsing, no CDS work.

    gunicorn --config gunicorn.conf.py 'bench.floor_app:create_app()'

It reads the JSON body exactly as the service does (strict parser, same OperationOutcome on bad JSON) and
answers {"cards": []}, so the ratio service/floor measures what the CDS work itself costs over HTTP.
"""

from __future__ import annotations

from flask import Flask, Response, request

from service import errors
from service.jsonio import json_response, read_json


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/<path:_path>")
    def floor(_path: str) -> Response:
        read_json(request)
        return json_response({"cards": []})

    errors.register(app)
    return app
