#!/bin/sh
# The one-shot compose service "minio-setup" (image minio/mc): creates the bucket firedrill
# writes to and a MinIO user that can use only that bucket's backups/ prefix
# (firedrill-policy.json: the permissions the README lists), so firedrill never holds MinIO's
# root credentials. Safe to run again: every step leaves what exists as it is.
set -eu
mc alias set demo http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing demo/firedrill
mc admin user add demo "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY"
mc admin policy create demo firedrill /setup/firedrill-policy.json
# "already in effect" when a previous run attached it
mc admin policy attach demo firedrill --user "$S3_ACCESS_KEY_ID" || mc admin user info demo "$S3_ACCESS_KEY_ID" | grep -q 'firedrill'
echo "bucket firedrill and user $S3_ACCESS_KEY_ID are ready"
