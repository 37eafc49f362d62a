#!/bin/sh
# The role firedrill backs the shop up as: it can log in and read everything (pg_read_all_data,
# PostgreSQL 14 and newer), and write nothing. Its password comes from the source container's
# environment (SHOP_DB_PASSWORD, a demo value in docker-compose.yml), never from this file.
# Run (it is executable) by the postgres image's entrypoint after 01-shop.sql, with the server up.
set -eu
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=password="$SHOP_DB_PASSWORD" <<'SQL'
create role firedrill login password :'password' in role pg_read_all_data;
SQL
