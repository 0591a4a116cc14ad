# syntax=docker/dockerfile:1
#
# shardgate gateway image.
#
#   docker build --build-arg NODE_DIGEST=<sha256 hex of node:20-bookworm-slim> -t shardgate:dev .
#   (the digest: `docker buildx imagetools inspect node:20-bookworm-slim`, the index's Digest without "sha256:")
#   docker run --rm -p 8080:8080 -p 8081:8081 \
#     -e GATEWAY_CONFIG=/etc/shardgate/gateway.json -v "$PWD/gateway.json:/etc/shardgate/gateway.json:ro" \
#     -e GATEWAY_ADMIN_TOKEN=... -e SHARDGATE_ENCRYPTION_KEYS=k1:... -e PGPASSWORD=... shardgate:dev
#
# Two stages: `build` compiles TypeScript with the dev dependencies; the runtime stage
# installs production dependencies only (no tsx/esbuild, no PGlite) and runs the compiled
# dist/ with node. Nothing secret is baked in: tokens, keys and passwords come from the
# environment at run time.
#
# The base image is pinned by digest, never by a tag that can move under a rebuild:
# NODE_DIGEST is required, and the build stops at the first FROM without it.
ARG NODE_DIGEST
# tini from Debian bookworm, pinned (a new version is a reviewed change, not a rebuild's surprise)
ARG TINI_VERSION=0.19.0-1

# ---------------------------------------------------------------- build
FROM node@sha256:${NODE_DIGEST:?build-arg_NODE_DIGEST_is_required} AS build
WORKDIR /src
# manifests first: the dependency layer stays cached until package*.json change
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY shards ./shards
RUN npm run build

# ---------------------------------------------------------------- runtime
FROM node@sha256:${NODE_DIGEST:?build-arg_NODE_DIGEST_is_required} AS runtime
ARG TINI_VERSION

# tini as PID 1: node is not written to be PID 1 (no default signal handlers, no zombie
# reaping); tini forwards SIGTERM so the gateway drains and exits 0.
RUN apt-get update \
    && apt-get install -y --no-install-recommends "tini=${TINI_VERSION}" \
    && rm -rf /var/lib/apt/lists/*

# NODE_ENV=production: config/production.json applies, routing headers are off, and the
# gateway refuses to start without GATEWAY_ADMIN_TOKEN and real encryption keys.
# HOST=0.0.0.0: a container's loopback is its own, so even the embedded default listens on
# every interface here; which ports are published is the operator's choice (-p).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    ADMIN_PORT=8081

WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: no dev tools (tsx, esbuild, the compiler) and no optional
# PGlite (the embedded default, which a pod with a catalog never runs; it says so if asked).
# No install script is needed at run time (protobufjs only checks itself), so none runs;
# the npm cache stays in the build cache.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

COPY --from=build /src/dist ./dist
# config/default.json is found by walking up from dist/src/config (or SHARDGATE_CONFIG_DIR)
COPY config ./config

# The app tree stays root-owned and read-only to the process. Only .data/ (the embedded
# default's PGlite files, unused when a catalog is configured) is writable; with a
# read-only root filesystem mount an emptyDir there and at /tmp.
RUN mkdir -p /app/.data && chown 1000:1000 /app/.data

# uid 1000 is the image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it
USER 1000:1000

EXPOSE 8080 8081
STOPSIGNAL SIGTERM

# For plain Docker; Kubernetes uses its own probes (k8s/base/gateway/deployment.yaml).
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# The telemetry SDK must load before express/pg/ioredis, hence --import.
# Migrations alone (the Kubernetes Job): `node /app/dist/src/migrate.js`.
CMD ["node", "--enable-source-maps", "--import", "/app/dist/src/instrument.js", "/app/dist/src/main.js"]
