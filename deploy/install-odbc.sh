#!/usr/bin/env bash
# ODBC for the images that use pyodbc (API, drift): the unixODBC driver manager and MariaDB's
# driver always; Microsoft's SQL Server driver (msodbcsql18) only when asked, because its
# licence must be accepted: build with --build-arg INSTALL_MSODBCSQL=true --build-arg ACCEPT_EULA=Y.
# Debian packages are not version-pinned: the base image tag fixes the Debian release, and
# point releases replace the pinned versions (a pin would break the next build).
set -euo pipefail

packages=(unixodbc odbc-mariadb)
install_msodbcsql="${INSTALL_MSODBCSQL:-false}"

apt-get update
if [ "$install_msodbcsql" = "true" ]; then
    if [ "${ACCEPT_EULA:-}" != "Y" ]; then
        echo "INSTALL_MSODBCSQL=true needs --build-arg ACCEPT_EULA=Y (Microsoft's msodbcsql18 licence:" \
            "https://aka.ms/odbc18eula)" >&2
        exit 1
    fi
    apt-get install -y --no-install-recommends ca-certificates curl gnupg
    curl -fsSL https://packages.microsoft.com/keys/microsoft.asc \
        | gpg --dearmor -o /usr/share/keyrings/microsoft-prod.gpg
    . /etc/os-release
    curl -fsSL "https://packages.microsoft.com/config/debian/${VERSION_ID}/prod.list" \
        -o /etc/apt/sources.list.d/mssql-release.list
    apt-get update
    packages+=(msodbcsql18)
fi
ACCEPT_EULA="${ACCEPT_EULA:-}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${packages[@]}"
if [ "$install_msodbcsql" = "true" ]; then
    apt-get purge -y --auto-remove curl gnupg
fi
rm -rf /var/lib/apt/lists/*
odbcinst -q -d   # the registered drivers, in the build log
