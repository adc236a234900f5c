# One image, two processes:
#   worker   node dist/src/worker-main.js     (the default command)
#   receiver node dist/src/receiver-main.js
# Every setting comes from the environment when the container starts; nothing secret is built in.
# docker-compose.yml runs both; docs/deploy.md shows how to run them next to any Temporal cluster.
# Needs BuildKit (the default builder of current Docker) for the npm cache mounts.

# Node 20 on Debian bookworm (glibc): the Temporal SDK's native bridge ships prebuilt for it.
ARG NODE_IMAGE=node:20.20-bookworm-slim

# ---- build: compile the TypeScript with the dev dependencies ----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first, so source edits do not reinstall them. Install scripts of dependencies are
# not needed (the core bridge and @swc/core ship their binaries as packages), so none run: the same
# as npm 11 without approvals, which is how the development machines install them.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

COPY --from=build /app/dist ./dist
# The worker bundles dist/workflows when it starts; their source maps point at these sources, so
# workflow stack traces in the Web UI name the TypeScript lines (and webpack has nothing to warn).
COPY workflows ./workflows
# The default group mapping (SYNC_CONFIG=config/sync.json; docker-compose.yml mounts ./config over
# it) and the sandbox seed.
COPY config ./config
COPY sandbox ./sandbox

# The code stays owned by root and read-only to the process. 1000 is the image's `node` user,
# given by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# No HEALTHCHECK here: the image runs two different processes, and only the receiver has a
# readiness route (docker-compose.yml checks its /readyz).
CMD ["node", "dist/src/worker-main.js"]
