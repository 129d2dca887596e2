# Slim, non-root image serving the API with gunicorn. The same gunicorn command (CMD below, with a
# loopback bind) is what tests/conftest.py runs, so the command is tested outside the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CDS_RULES_DIR=/app/rules

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cds
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY rules ./rules
COPY deploy/trusted-issuers.example.yaml deploy/cds-hooks-sandbox-jwks.json ./deploy/
RUN pip install . && python -c "from service.rules_loader import load_knowledge_base; load_knowledge_base()"

USER cds
EXPOSE 8080
CMD ["gunicorn", "service:create_app()", "--bind", "0.0.0.0:8080", "--workers", "2", "--timeout", "30", "--access-logfile", "-"]
