#!/usr/bin/env bash
# Builds a local Docker image that stands in for the official `node:<major>-<suite>-slim` image and
# tags it `firedrill-ci/node:<major>-<suite>-slim`, without any container registry. Prints that
# name on stdout (its only output there; the log goes to stderr).
#
# Why: firedrill's Dockerfile builds FROM `node:24-bookworm-slim` (ARG BASE_IMAGE). CI machines
# reach the Debian archive and the npm registry but no container registry, so that image cannot be
# pulled there; `docker build --build-arg BASE_IMAGE=firedrill-ci/node:24-bookworm-slim .` builds
# the same Dockerfile from this one instead. Its own name (not `node:...`) says it is not the
# official image, so nothing mistakes one for the other.
#
# How: mmdebstrap builds a Debian root filesystem (variant minbase, as debian:<suite>-slim: useradd
# and the rest of the required packages are there) with ca-certificates; the Node.js binary comes
# from the npm package node-linux-<arch> (the one .ci/run installed into ~/.cache/firedrill-node
# when its major matches, else `npm pack`), npm from the npm package `npm` (node-linux-* ships no
# npm), both laid out as the official image has them (/usr/local/bin/node,
# /usr/local/lib/node_modules/npm, /usr/local/bin/{npm,npx}), with its user node (1000:1000).
# `docker import --change ...` adds the official image's ENV and CMD.
#
# Certificates: when this host trusts CA certificates that Debian's ca-certificates lacks (a
# TLS-intercepting proxy's CA, as on some CI networks), they are added to the image
# (/usr/local/share/ca-certificates, update-ca-certificates) and NODE_EXTRA_CA_CERTS points Node at
# the system bundle, so `npm ci` in the Dockerfile's build stage reaches the registry as the host
# does. The image's label io.firedrill.extra-ca-certificates says how many were added.
#
# Usage: scripts/build-node-base-image.sh        (needs root, mmdebstrap, npm and a Docker daemon)
#   FIREDRILL_NODE_MAJOR     Node.js major; default 24
#   FIREDRILL_NPM_VERSION    npm version or range from the npm registry; default 11 (Node 24's)
#   FIREDRILL_DEBIAN_SUITE   Debian suite of the image; default VERSION_CODENAME of /etc/os-release
#   FIREDRILL_DEBIAN_MIRROR  mmdebstrap MIRROR argument (a URI, a "deb ..." line or a sources
#                            file); default: the host's apt sources when the suite is the host's,
#                            else mmdebstrap's default (deb.debian.org, with updates and security)
#   FIREDRILL_HOST_CA_BUNDLE the host's CA bundle to take extra certificates from; default
#                            /etc/ssl/certs/ca-certificates.crt; "none" adds none
#   FIREDRILL_REBUILD_IMAGE=1  rebuild even when the image is already present
set -euo pipefail
umask 022 # what is copied into the image must be readable by its users

log() { printf '[build-node-base-image] %s\n' "$*" >&2; }
die() { printf '[build-node-base-image] error: %s\n' "$*" >&2; exit 1; }

node_major="${FIREDRILL_NODE_MAJOR:-24}"
[[ "$node_major" =~ ^[0-9]+$ ]] || die "FIREDRILL_NODE_MAJOR must be a number, got '$node_major'"
[ "$node_major" -ge 22 ] || die "firedrill needs Node.js 22.18 or newer; FIREDRILL_NODE_MAJOR is $node_major"
npm_version="${FIREDRILL_NPM_VERSION:-11}"

# --- Debian suite: environment, or the host's.
host_suite="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
suite="${FIREDRILL_DEBIAN_SUITE:-$host_suite}"
[ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release: set FIREDRILL_DEBIAN_SUITE"

image="firedrill-ci/node:$node_major-$suite-slim"
if [ "${FIREDRILL_REBUILD_IMAGE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  log "$image is already present ($(docker image inspect --format '{{.Id}}' "$image")); nothing to do (FIREDRILL_REBUILD_IMAGE=1 rebuilds it)"
  printf '%s\n' "$image"
  exit 0
fi

command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
command -v npm >/dev/null 2>&1 || die "npm is not installed: it fetches Node.js and npm from the npm registry"
docker info >/dev/null 2>&1 || die "no Docker daemon answers 'docker info'"

case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) die "no node-linux-* package for the architecture $(uname -m)" ;;
esac

# --- apt sources for mmdebstrap (as in scripts/build-postgres-image.sh).
mirrors=()
if [ -n "${FIREDRILL_DEBIAN_MIRROR:-}" ]; then
  mirrors=("$FIREDRILL_DEBIAN_MIRROR")
  sources_desc="$FIREDRILL_DEBIAN_MIRROR"
elif [ "$suite" = "$host_suite" ]; then
  # The host's apt sources: what this machine can reach. apt reads only *.list and *.sources files.
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

tmp="$(mktemp -d "${TMPDIR:-/tmp}/firedrill-node-image.XXXXXX")"
rootfs_image="firedrill-node-rootfs:$node_major-$suite" # intermediate tag, see docker import below
cleanup() {
  docker rmi "$rootfs_image" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

started=$SECONDS
log "building $image: Debian $suite (minbase), Node.js $node_major, npm $npm_version, from $sources_desc"
log "work directory $tmp (removed on exit)"

# --- Node.js and npm, laid out under $tmp/local as /usr/local is in the official image.
mkdir -p "$tmp/packages" "$tmp/local/bin" "$tmp/local/lib/node_modules" "$tmp/local/include"
node_package="node-linux-$node_arch"
cached_node="$HOME/.cache/firedrill-node/node_modules/$node_package"
cached_version="$("$cached_node/bin/node" --version 2>/dev/null || true)"
cached_version="${cached_version#v}"
if [ -n "$cached_version" ] && [ "${cached_version%%.*}" = "$node_major" ]; then
  log "Node.js $cached_version from $cached_node (installed by .ci/run)"
  node_dir="$cached_node"
else
  log "npm pack $node_package@$node_major"
  (cd "$tmp/packages" && npm pack --silent "$node_package@$node_major" >/dev/null)
  mkdir "$tmp/node"
  tar -xzf "$tmp/packages/$node_package"-*.tgz -C "$tmp/node" --strip-components=1 --no-same-owner
  node_dir="$tmp/node"
fi
install -m 0755 "$node_dir/bin/node" "$tmp/local/bin/node"
[ -d "$node_dir/include/node" ] && cp -R "$node_dir/include/node" "$tmp/local/include/node"
node_version="$("$tmp/local/bin/node" --version)"
node_version="${node_version#v}"
[ "${node_version%%.*}" = "$node_major" ] || die "$node_package gave Node.js $node_version, not major $node_major"

log "npm pack npm@$npm_version"
(cd "$tmp/packages" && npm pack --silent "npm@$npm_version" >/dev/null)
mkdir "$tmp/local/lib/node_modules/npm"
tar -xzf "$tmp/packages"/npm-*.tgz -C "$tmp/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/local/bin/npx"
npm_installed="$("$tmp/local/bin/node" "$tmp/local/bin/npm" --version)"
# One tarball owned by root, unpacked over the root filesystem's /usr/local by mmdebstrap.
tar -cf "$tmp/usr-local.tar" --owner=0 --group=0 --numeric-owner -C "$tmp" --transform 's,^local,usr/local,' local

# --- CA certificates this host trusts beyond Debian's (see the header): those in the host's bundle
# that neither the image's bundle nor the host's own ca-certificates package
# (/usr/share/ca-certificates) holds, i.e. the ones added locally (a proxy's CA). Certificates
# that only an older ca-certificates still carries (since distrusted) are not taken over. Runs on
# the host, after ca-certificates is installed, with the root filesystem as $1; writes how many it
# added to $tmp/extra-ca-count.
host_bundle="${FIREDRILL_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
cat > "$tmp/ca-hook.sh" <<HOOK
#!/bin/sh
set -eu
rootfs="\$1"
host_bundle='$host_bundle'
count=0
if [ "\$host_bundle" != none ] && [ -s "\$host_bundle" ]; then
  mkdir -p "\$rootfs/usr/local/share/ca-certificates"
  # What is known: the image's bundle and the host package's certificates (each file may lack a final newline).
  { cat "\$rootfs/etc/ssl/certs/ca-certificates.crt"; find /usr/share/ca-certificates -name '*.crt' -type f -exec sh -c 'for f; do cat "\$f"; echo; done' sh {} + 2>/dev/null || :; } > '$tmp/known-ca.pem'
  # PEM blocks of the host's bundle, compared without line endings, that are not known.
  count="\$(awk -v dir="\$rootfs/usr/local/share/ca-certificates" '
    FNR == 1 { file++ }
    { sub(/\r\$/, "") }
    /^-----BEGIN CERTIFICATE-----\$/ { block = ""; inside = 1 }
    inside { block = block \$0 "\n" }
    /^-----END CERTIFICATE-----\$/ {
      inside = 0
      if (file == 1) seen[block] = 1
      else if (!(block in seen)) { seen[block] = 1; added++; out = dir "/firedrill-ci-host-" added ".crt"; printf "%s", block > out; close(out) }
    }
    END { print added + 0 }
  ' '$tmp/known-ca.pem' "\$host_bundle")"
  if [ "\$count" -gt 0 ]; then
    # (its rehash warns about the bundle file itself, which holds many certificates)
    chroot "\$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
fi
printf '%s\n' "\$count" > '$tmp/extra-ca-count'
HOOK
chmod +x "$tmp/ca-hook.sh"

# Runs in the root filesystem after Node.js is in place: the official image's user node, and a
# check that node and npm run there.
cat > "$tmp/customize-hook.sh" <<'HOOK'
#!/bin/sh
set -eu
chroot "$1" /bin/sh -eu <<'IN_ROOTFS'
groupadd --gid 1000 node
useradd --uid 1000 --gid node --shell /bin/bash --create-home node
node --version
npm --version
IN_ROOTFS
HOOK
chmod +x "$tmp/customize-hook.sh"

mmdebstrap_args=(
  --variant=minbase
  --include=ca-certificates
  # No documentation, man pages or message translations; copyright files stay.
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --customize-hook="$tmp/ca-hook.sh"
  --customize-hook="tar-in $tmp/usr-local.tar /"
  --customize-hook="$tmp/customize-hook.sh"
  "$suite"
  "$tmp/rootfs.tar"
)
log "mmdebstrap ${mmdebstrap_args[*]:0:2} ... $suite $tmp/rootfs.tar"
# mmdebstrap's own output (the hook's node and npm versions included) goes to the log, not stdout.
mmdebstrap --quiet "${mmdebstrap_args[@]}" "${mirrors[@]}" >&2
extra_ca="$(cat "$tmp/extra-ca-count")"
log "root filesystem: $(du -h "$tmp/rootfs.tar" | cut -f1) after $((SECONDS - started)) s"
changes=(
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change "ENV NODE_VERSION=$node_version"
  --change 'CMD ["node"]'
  --change "LABEL io.firedrill.image-build=local io.firedrill.debian-suite=$suite io.firedrill.extra-ca-certificates=$extra_ca"
)
if [ "$extra_ca" -gt 0 ]; then
  log "added $extra_ca CA certificate(s) that $host_bundle has and Debian's ca-certificates lacks; NODE_EXTRA_CA_CERTS makes Node trust them"
  changes+=(--change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
fi

# Imported under an intermediate tag and then tagged, so that a failed import never leaves a
# half-made image under the real name, and the image it replaces can be removed afterwards.
old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
log "docker import $tmp/rootfs.tar $rootfs_image"
docker import "${changes[@]}" \
  --message "firedrill: Node.js $node_version and npm $npm_installed on Debian $suite (scripts/build-node-base-image.sh)" \
  "$tmp/rootfs.tar" "$rootfs_image" >/dev/null
docker tag "$rootfs_image" "$image"
docker rmi "$rootfs_image" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$image")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  # the image this rebuild replaced, unless a container or another tag still uses it
  docker rmi "$old_id" >/dev/null 2>&1 && log "removed the previous $image ($old_id)" || true
fi

size="$(docker image inspect --format '{{.Size}}' "$image")"
log "built $image ($new_id: Node.js $node_version, npm $npm_installed, $((size / 1000000)) MB) in $((SECONDS - started)) s"
printf '%s\n' "$image"
