# firedrill as a container: `firedrill serve` (the scheduler, dashboard and API on port 9750) by
# default, or any other command (`docker run IMAGE run orders`, `... validate`).
#
#   docker build -t firedrill .
#   docker run --rm -p 127.0.0.1:9750:9750 -v "$PWD/config:/var/lib/firedrill/config:ro" \
#     -v "$PWD/drills:/var/lib/firedrill/drills:ro" firedrill
#
# The working directory /var/lib/firedrill holds config/, drills/ and var/ (backups of local
# repositories, reports), as a team's firedrill folder does; relative paths in the config resolve
# against it. The image carries the Debian PostgreSQL server and client of its base's release
# (bookworm: 15, trixie: 17): pg_dump for sources up to that major, and the `local` sandbox, which
# needs no Docker. Build FROM node:24-trixie-slim for PostgreSQL 17's tools.
#
# Only what the legacy builder understands is used (no BuildKit syntax): engines without BuildKit
# build it too.

# The Node.js image both stages build on. CI machines without a registry build a stand-in with
# scripts/build-node-base-image.sh and pass --build-arg BASE_IMAGE=firedrill-ci/node:24-bookworm-slim.
ARG BASE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript, keep only the production dependencies.
FROM ${BASE_IMAGE} AS build
WORKDIR /build
# Dependencies first: this layer stays cached until package*.json changes. --ignore-scripts: the
# package's own prepare script (npm run build) would run before the sources are here, and no
# dependency needs an install script (ssh2 and cpu-features, under testcontainers' Docker client,
# fall back to JavaScript without their optional native code).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -f dist/.tsbuildinfo

# --- runtime
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# postgresql: initdb, postgres, pg_dump and pg_restore (the `local` sandbox, and backups); zstd and
# age: the repository pipeline; tini: PID 1, which forwards signals to firedrill (so SIGTERM reaches
# the scheduler, which finishes or aborts its drills) and reaps the processes it orphans;
# ca-certificates: for libpq's sslrootcert=system and a private CA added with update-ca-certificates.
# No cluster is created at install time: sandboxes are created per run and thrown away.
RUN set -eux; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/firedrill.conf; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql postgresql-client zstd age tini ca-certificates; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    ls /usr/lib/postgresql/*/bin/initdb; \
    groupadd --system --gid 10001 firedrill; \
    useradd --system --uid 10001 --gid firedrill --home-dir /var/lib/firedrill --no-create-home --shell /usr/sbin/nologin firedrill; \
    install -d -o firedrill -g firedrill -m 0750 /var/lib/firedrill /var/lib/firedrill/config /var/lib/firedrill/drills /var/lib/firedrill/var

# The application, owned by root: the firedrill user can run it, not change it.
COPY --from=build /build/package.json /opt/firedrill/package.json
COPY --from=build /build/node_modules /opt/firedrill/node_modules
COPY --from=build /build/dist /opt/firedrill/dist
COPY config/schema /opt/firedrill/config/schema
RUN ln -s /opt/firedrill/dist/cli/bin.js /usr/local/bin/firedrill \
 && firedrill --version

# LANG: a UTF-8 locale rather than POSIX for firedrill and the tools it runs (it passes LANG on to them).
ENV LANG=C.UTF-8 \
    HOME=/var/lib/firedrill
WORKDIR /var/lib/firedrill
# Numeric, so that Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER 10001:10001
EXPOSE 9750
# The server must listen where this reaches it: server.host 0.0.0.0 (or 127.0.0.1 when nothing
# outside the container needs it), port 9750. FIREDRILL_HEALTHCHECK_URL overrides the URL.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.FIREDRILL_HEALTHCHECK_URL || 'http://127.0.0.1:9750/healthz', { signal: AbortSignal.timeout(4000) }).then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "firedrill"]
CMD ["serve"]
