# syntax=docker/dockerfile:1
# trustgate: one image, one executable. The entrypoint is `trustgate`; the first argument picks the
# component: `controller`, `agent`, `webhook`, `guest` (the in-guest sidecar), `verify`, `verify-token`,
# `version`. The Helm chart (charts/trustgate) runs `controller`, `agent` and `webhook` from this image.
#
#   docker build -t trustgate:0.1.0 .
#
# The install and build steps are the commands `make build` and the tests run (hack/setup-node.sh:
# `npm ci`; Makefile: `tsc -p tsconfig.build.json`), on the Node version the tests use
# (hack/versions.sh NODE_VERSION). Pin the base by digest for a release build:
#   docker build --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> .
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# Build: every dependency, then the TypeScript compile into dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN npx tsc -p tsconfig.build.json

# Production dependencies only (no TypeScript, eslint, mocha, ...).
FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# Runtime: the compiled JavaScript, package.json (ESM "type": "module", the version) and the
# production node_modules; nothing else. Non-root by default (the chart runs the controller as
# 65532; only the agent runs as root, see charts/trustgate/values.yaml).
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/operator/src/cmd/main.js"]
CMD ["--help"]
