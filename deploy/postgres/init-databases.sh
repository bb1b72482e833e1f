#!/usr/bin/env bash
# First start of the postgres container only (docker-entrypoint-initdb.d): one database per
# concern, each owned by its own login role, which can reach no other database.
#   attrition  the app database          (APP_DB_PASSWORD): owner, used by the bootstrap's migrations
#   mlflow     MLflow's backend store    (MLFLOW_DB_PASSWORD)
#   optuna     Optuna's RDB storage      (OPTUNA_DB_PASSWORD)
# and the app's least-privilege runtime role:
#   attrition_app  reads and writes the app database's rows, cannot create, alter or drop
#                  anything (APP_RUNTIME_DB_PASSWORD): what the API and the drift service use
# Passwords come from the environment and are passed to psql as variables (never in SQL text
# the shell builds). Changing a password later: ALTER ROLE ... PASSWORD, then update .env.
set -euo pipefail

create() {
    local name=$1 password=$2
    if [ -z "$password" ]; then
        echo "init-databases: no password for database user $name" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
\connect :"name"
ALTER SCHEMA public OWNER TO :"name";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
}

# Rows only: SELECT/INSERT/UPDATE/DELETE on the tables the owner creates (now and later, through
# default privileges), the sequences behind their keys, temporary tables; no CREATE on the schema.
create_runtime() {
    local database=$1 name=$2 password=$3
    if [ -z "$password" ]; then
        echo "init-databases: no password for database user $name" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v db="$database" -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"name";
\connect :"db"
GRANT USAGE ON SCHEMA public TO :"name";
ALTER DEFAULT PRIVILEGES FOR ROLE :"db" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"name";
ALTER DEFAULT PRIVILEGES FOR ROLE :"db" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"name";
SQL
}

# The names can be changed for a test run against a shared server; compose uses the defaults.
create "${APP_DB_NAME:-attrition}" "${APP_DB_PASSWORD:-}"
create_runtime "${APP_DB_NAME:-attrition}" "${APP_DB_NAME:-attrition}_app" "${APP_RUNTIME_DB_PASSWORD:-}"
create "${MLFLOW_DB_NAME:-mlflow}" "${MLFLOW_DB_PASSWORD:-}"
create "${OPTUNA_DB_NAME:-optuna}" "${OPTUNA_DB_PASSWORD:-}"
