#!/usr/bin/env bash
# Builds a local Docker image that behaves like the official `postgres:<major>` image and tags it
# `postgres:<major>`, without any container registry.
#
# Why: firedrill restores into a throwaway container whose image defaults to
# `postgres:<major of the backed-up server>`, and its tests do the same. CI machines reach the
# Debian archive and the npm registry but no container registry, so `docker pull postgres:15`
# fails there. This script makes that name resolve locally, so nothing is pulled.
#
# How: mmdebstrap builds a Debian root filesystem (the host's suite, the host's apt sources) with
# the Debian package postgresql-<major>; scripts/docker/docker-entrypoint.sh becomes
# /usr/local/bin/docker-entrypoint.sh (it mirrors the official entrypoint: POSTGRES_PASSWORD,
# POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD,
# /docker-entrypoint-initdb.d); `docker import --change ...` adds the official image's PATH,
# PGDATA, VOLUME, EXPOSE, ENTRYPOINT and CMD, and a one-line `docker build` its STOPSIGNAL. The
# postgres user has uid/gid 999 as in the official image.
#
# Usage: scripts/build-postgres-image.sh [MAJOR]    (needs root, mmdebstrap and a Docker daemon)
#   MAJOR                    PostgreSQL major; default $FIREDRILL_PG_MAJOR, else the highest N
#                            with /usr/lib/postgresql/N/bin/postgres on this host
#   FIREDRILL_DEBIAN_SUITE   Debian suite of the image; default VERSION_CODENAME of /etc/os-release
#   FIREDRILL_DEBIAN_MIRROR  mmdebstrap MIRROR argument (a URI, a "deb ..." line or a sources
#                            file); default: the host's apt sources when the suite is the host's,
#                            else mmdebstrap's default (deb.debian.org, with updates and security)
#   FIREDRILL_REBUILD_IMAGE=1  rebuild even when the image is already present
# The Debian suite must ship postgresql-<major> (bookworm: 15, trixie: 17), unless the apt
# sources include apt.postgresql.org.
set -euo pipefail

log() { printf '[build-postgres-image] %s\n' "$*"; }
die() { printf '[build-postgres-image] error: %s\n' "$*" >&2; exit 1; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
entrypoint="$script_dir/docker/docker-entrypoint.sh"
[ -f "$entrypoint" ] || die "missing $entrypoint"

# --- PostgreSQL major: argument, environment, or the host's highest installed server.
host_pg_major() {
  local bin
  for bin in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$bin" ] || continue
    bin="${bin#/usr/lib/postgresql/}"
    printf '%s\n' "${bin%%/*}"
  done | grep -E '^[0-9]+$' | sort -n | tail -n 1
}
major="${1:-${FIREDRILL_PG_MAJOR:-}}"
if [ -z "$major" ]; then
  major="$(host_pg_major || true)"
  [ -n "$major" ] || die "no /usr/lib/postgresql/N/bin/postgres on this host: pass the major as the first argument or set FIREDRILL_PG_MAJOR"
fi
[[ "$major" =~ ^[0-9]+$ ]] || die "PostgreSQL major must be a number, got '$major'"

# --- Debian suite: environment, or the host's.
host_suite="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
suite="${FIREDRILL_DEBIAN_SUITE:-$host_suite}"
[ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release: set FIREDRILL_DEBIAN_SUITE"

image="postgres:$major"
if [ "${FIREDRILL_REBUILD_IMAGE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  log "$image is already present ($(docker image inspect --format '{{.Id}}' "$image")); nothing to do (FIREDRILL_REBUILD_IMAGE=1 rebuilds it)"
  exit 0
fi

command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers 'docker info'"

# --- apt sources for mmdebstrap.
mirrors=()
if [ -n "${FIREDRILL_DEBIAN_MIRROR:-}" ]; then
  mirrors=("$FIREDRILL_DEBIAN_MIRROR")
  sources_desc="$FIREDRILL_DEBIAN_MIRROR"
elif [ "$suite" = "$host_suite" ]; then
  # The host's apt sources: apt just installed packages from them, and they are what this
  # machine can reach (a local mirror, a proxy, apt.postgresql.org for other majors). apt reads
  # only *.list and *.sources files in sources.list.d.
  if grep -Eq '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list 2>/dev/null; then
    mirrors+=(/etc/apt/sources.list)
  fi
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && mirrors+=("$f")
  done
  sources_desc="the host's apt sources (${mirrors[*]:-none})"
fi
if [ "${#mirrors[@]}" -eq 0 ]; then
  sources_desc="mmdebstrap's default for $suite (deb.debian.org with updates and security)"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/firedrill-pg-image.XXXXXX")"
mkdir "$tmp/empty-context"
rootfs_image="firedrill-postgres-rootfs:$major" # intermediate tag, see docker import below
cleanup() {
  docker rmi "$rootfs_image" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

started=$SECONDS
log "building $image: Debian $suite, postgresql-$major, from $sources_desc"
log "work directory $tmp (removed on exit)"

# The official image's postgres user and group are 999:999; created before the Debian package
# would pick a free system uid (postgresql-common's adduser then finds them).
essential_hook='printf "postgres:x:999:999:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n" >> "$1/etc/passwd"
printf "postgres:x:999:\n" >> "$1/etc/group"'

# Runs after the packages are installed, with the root filesystem as $1 (mmdebstrap runs an
# executable hook file directly):
#  - the Debian package's cluster (/etc/postgresql/N/main, /var/lib/postgresql/N/main) goes, and
#    no later package run creates one;
#  - postgresql.conf.sample gets listen_addresses = '*', so initdb writes it (official image);
#  - the directories the official image creates. /run/postgresql (/var/run/postgresql) must be in
#    the image for a non-root `docker run --user`; mmdebstrap would empty /run
#    (--skip=cleanup/run), so the hook cleans /run itself.
cat > "$tmp/customize-hook.sh" <<HOOK
#!/bin/sh
set -eu
chroot "\$1" /bin/sh -eu <<'IN_ROOTFS'
rm -rf /etc/postgresql/$major /var/lib/postgresql/$major
rmdir /etc/postgresql 2>/dev/null || :
sed -ri 's/^#?(create_main_cluster)[[:space:]]*=.*\$/\1 = false/' /etc/postgresql-common/createcluster.conf
grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf
sample=/usr/share/postgresql/$major/postgresql.conf.sample
sed -ri "s!^#?(listen_addresses)[[:space:]]*=[[:space:]]*[^[:space:]]+.*!\\\\1 = '*'!" "\$sample"
grep -F "listen_addresses = '*'" "\$sample"
test "\$(id -u postgres):\$(id -g postgres)" = 999:999
find /run -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +
install -d -o postgres -g postgres -m 3777 /run/postgresql
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
install -d -m 0755 /docker-entrypoint-initdb.d
chmod 0755 /usr/local/bin/docker-entrypoint.sh
/usr/lib/postgresql/$major/bin/postgres --version
IN_ROOTFS
HOOK
chmod +x "$tmp/customize-hook.sh"

mmdebstrap_args=(
  --variant=apt
  # util-linux: setpriv (Essential anyway); as in the official image: libnss-wrapper (initdb as an
  # arbitrary uid), xz-utils and zstd (*.sql.xz, *.sql.zst init files)
  --include="postgresql-$major,util-linux,libnss-wrapper,xz-utils,zstd"
  # No documentation, man pages or message translations (the image runs with LANG=C.UTF-8);
  # copyright files stay.
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --skip=cleanup/run
  --essential-hook="$essential_hook"
  --customize-hook="upload $entrypoint /usr/local/bin/docker-entrypoint.sh"
  --customize-hook="$tmp/customize-hook.sh"
  "$suite"
  "$tmp/rootfs.tar"
)
log "mmdebstrap ${mmdebstrap_args[*]:0:3} ... $suite $tmp/rootfs.tar"
mmdebstrap --quiet "${mmdebstrap_args[@]}" "${mirrors[@]}"
log "root filesystem: $(du -h "$tmp/rootfs.tar" | cut -f1) after $((SECONDS - started)) s"

# The official image's configuration (docker-library/postgres Dockerfile). `docker import
# --change` does not accept STOPSIGNAL (Docker 20.10: "stopsignal is not a valid change
# command"), so a one-line build on top of the imported image adds it; it needs no registry and
# adds no layer.
old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
log "docker import $tmp/rootfs.tar $rootfs_image"
docker import \
  --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV PG_MAJOR=$major" \
  --change "ENV PGDATA=/var/lib/postgresql/data" \
  --change "VOLUME /var/lib/postgresql/data" \
  --change "EXPOSE 5432" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["postgres"]' \
  --change "LABEL io.firedrill.image-build=local io.firedrill.debian-suite=$suite" \
  --message "firedrill: postgresql-$major from Debian $suite (scripts/build-postgres-image.sh)" \
  "$tmp/rootfs.tar" "$rootfs_image" >/dev/null
log "docker build -t $image (STOPSIGNAL SIGINT on top of $rootfs_image)"
printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$rootfs_image" > "$tmp/Dockerfile"
# (its output, a deprecation notice of the legacy builder included, only shows on failure)
if ! build_output="$(docker build --quiet --tag "$image" --file - "$tmp/empty-context" < "$tmp/Dockerfile" 2>&1)"; then
  printf '%s\n' "$build_output" >&2
  die "docker build failed"
fi
docker rmi "$rootfs_image" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$image")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  # the image this rebuild replaced, unless a container still uses it
  docker rmi "$old_id" >/dev/null 2>&1 && log "removed the previous $image ($old_id)" || true
fi

size="$(docker image inspect --format '{{.Size}}' "$image")"
log "built $image ($new_id, $((size / 1000000)) MB) in $((SECONDS - started)) s"
