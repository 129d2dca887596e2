"""magnesium-cds: a CDS Hooks 2.0 service about serum magnesium, Mg-loss risk and leg symptoms.

The app is imported only when create_app is called: gunicorn's master imports service.gunicorn_logging
(via gunicorn.conf.py) and must not load Flask, requests or ssl before a gevent worker has patched them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Assemble the WSGI app (service.app.create_app)."""
    from .app import create_app as build  # noqa: PLC0415 (deferred on purpose, see above)

    return build(config)
