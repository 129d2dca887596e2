# syntax=docker/dockerfile:1
# magnesium-cds: multi-stage, pinned, non-root, read-only-root friendly.
# Build:  docker build -t magnesium-cds .
# The CMD below (with a loopback bind) is exactly what tests/conftest.py runs, so it is tested outside
# the image.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build: dependencies into a virtual environment, from the pinned lock ----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --require-virtualenv -r /tmp/requirements.lock

# ---- runtime: the venv, the code and the knowledge base; no compilers, no pip cache ------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    METRICS_PORT=9090 \
    METRICS_HOST=0.0.0.0 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin cds
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY service ./service
COPY rules ./rules
COPY openapi.yaml gunicorn.conf.py ./
COPY deploy/trusted-issuers.example.yaml deploy/cds-hooks-sandbox-jwks.json ./deploy/
# Fail the build if the knowledge base does not validate.
RUN python -m service check-rules
USER 10001:10001
# 8080: the API (gevent workers, see gunicorn.conf.py). Prometheus /metrics listens on METRICS_PORT (9090),
# for the pod network only: never publish it or route it through the Ingress.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
# Client authentication is on by default: set CDS_PUBLIC_BASE_URL and CDS_TRUSTED_ISSUERS_FILE.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "service:create_app()"]
