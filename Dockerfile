# syntax=docker/dockerfile:1
# One image for the three services: the command chooses which one runs.
#   docker build -t catch-all .
#   docker run catch-all producer-api/dist/main.js

# The package manifests, shared by both stages (installs are cached while they do not change).
FROM node:20-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY schemas/package.json schemas/
COPY producer-api/package.json producer-api/
COPY consumer/package.json consumer/
COPY query-api/package.json query-api/
# Fixes applied to dependencies after install (patch-package, the root postinstall).
COPY patches patches

FROM manifests AS build
COPY scripts/package.json scripts/
# npm install, not npm ci: see scripts/bootstrap.js.
RUN npm install --no-audit --no-fund --no-save
COPY tsconfig.base.json tsconfig.json ./
COPY core core
COPY schemas schemas
COPY producer-api producer-api
COPY consumer consumer
COPY query-api query-api
RUN node node_modules/typescript/bin/tsc -b core schemas producer-api consumer query-api

FROM manifests AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0
# Production dependencies of the services only (not the local-infrastructure scripts).
# --include-workspace-root: the root's patch-package runs the kafkajs fix in patches/.
RUN npm install --omit=dev --no-audit --no-fund --no-save --include-workspace-root \
      -w core -w schemas -w producer-api -w consumer -w query-api \
  && npm cache clean --force
COPY --from=build /app/core/dist core/dist
COPY --from=build /app/schemas/dist schemas/dist
COPY schemas/domain-event.avsc schemas/
COPY --from=build /app/producer-api/dist producer-api/dist
COPY --from=build /app/consumer/dist consumer/dist
COPY consumer/migrations consumer/migrations
COPY --from=build /app/query-api/dist query-api/dist
USER node
# tini is PID 1, so that SIGTERM reaches node and the graceful shutdown runs.
ENTRYPOINT ["/usr/bin/tini", "--", "node"]
CMD ["producer-api/dist/main.js"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
