# The image behind every docker-compose service: the package installed, run as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 WORKSPACE_DIR=/data/workspace
WORKDIR /app
COPY pyproject.toml README.md ./
COPY marketing_team ./marketing_team
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 team \
    && mkdir -p /data/workspace && chown team:team /data/workspace
USER team
WORKDIR /data/workspace
