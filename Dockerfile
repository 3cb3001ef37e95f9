# The web container: Django under gunicorn, waiting for its database and cache.
# Build: docker build -t desafio3-web .
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    WEB_BIND=0.0.0.0:8080 \
    DJANGO_STATIC_ROOT=/app/staticfiles

# Dependencies first, in a layer of their own: code changes do not reinstall them.
# The lock pins every package with the hashes of its files, and wheels only: pip
# installs nothing unlocked and runs no build whose tools it could not verify.
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --disable-pip-version-check --require-hashes \
       --only-binary :all: -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

WORKDIR /app
COPY manage.py gunicorn.conf.py ./
COPY serving ./serving
COPY visits_project ./visits_project
COPY visits ./visits
COPY docker/entrypoint docker/healthcheck.py ./docker/

# Static files are collected at build time; WhiteNoise serves them. The key
# only satisfies Django's settings for this one command. The service runs as a
# user that can write nothing in /app.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0 \
    && groupadd --system --gid 10001 visits \
    && useradd --system --uid 10001 --gid visits --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin visits

# Numeric, so that runtimes can verify it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# Liveness (/healthz): an outage of PostgreSQL or Redis, which the page answers
# for itself, must not get web replaced (docker/healthcheck.py).
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint"]
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
