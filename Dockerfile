# The prediction API: `attrition serve api` (FastAPI + uvicorn) with the api and db-drivers extras.
#   docker build -t attrition-api .
#   SQL Server / Azure SQL (Microsoft's ODBC driver; its licence must be accepted):
#   docker build --build-arg INSTALL_MSODBCSQL=true --build-arg ACCEPT_EULA=Y -t attrition-api .

# --- builder: a venv with the package and its extras, versions from the lock ---
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_NO_CACHE=1
RUN pip install --no-cache-dir uv==0.13.9 && uv venv --python /usr/local/bin/python3.11 /opt/venv
WORKDIR /build
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN uv pip install --python /opt/venv/bin/python --constraint requirements.lock --compile-bytecode \
    '.[api,db-drivers]'

# --- runtime: the venv, the api/ service and the YAML configs; no compilers, no uv ---
FROM python:3.11-slim-bookworm
ARG INSTALL_MSODBCSQL=false
ARG ACCEPT_EULA=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-odbc.sh /tmp/install-odbc.sh
RUN INSTALL_MSODBCSQL="$INSTALL_MSODBCSQL" ACCEPT_EULA="$ACCEPT_EULA" bash /tmp/install-odbc.sh \
    && rm /tmp/install-odbc.sh
# One uid/gid (10001) in every image, so the shared volumes are writable by each service.
RUN groupadd --system --gid 10001 attrition \
    && useradd --system --uid 10001 --gid attrition --home-dir /app --shell /usr/sbin/nologin attrition \
    && mkdir -p /var/lib/attrition /srv/attrition/reports /srv/attrition/reference_data \
    && chown -R attrition:attrition /var/lib/attrition /srv/attrition
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY configs ./configs
COPY api ./api
# api/ is imported from the working directory (it is not part of the installed package).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ATTRITION_CONFIG_DIR=/app/configs \
    ATTRITION_DATA_DIR=/var/lib/attrition \
    ATTRITION_REPORTS_DIR=/srv/attrition/reports \
    ATTRITION_REFERENCE_DIR=/srv/attrition/reference_data \
    ATTRITION_SERVING__HOST=0.0.0.0 \
    ATTRITION_SERVING__PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["attrition", "serve", "api"]
