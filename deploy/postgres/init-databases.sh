#!/usr/bin/env bash
# First start of the postgres container only (docker-entrypoint-initdb.d): one database per
# concern, each owned by its own login role, which can reach no other database.
#   attrition  the app database          (APP_DB_PASSWORD)
#   mlflow     MLflow's backend store    (MLFLOW_DB_PASSWORD)
#   optuna     Optuna's RDB storage      (OPTUNA_DB_PASSWORD)
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

# The names can be changed for a test run against a shared server; compose uses the defaults.
create "${APP_DB_NAME:-attrition}" "${APP_DB_PASSWORD:-}"
create "${MLFLOW_DB_NAME:-mlflow}" "${MLFLOW_DB_PASSWORD:-}"
create "${OPTUNA_DB_NAME:-optuna}" "${OPTUNA_DB_PASSWORD:-}"
