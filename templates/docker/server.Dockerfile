# The llmops server image: the llmops CLI with production dependencies only, run as a non-root
# user, serving the model in /models (baked in with `llmops image build --model`, else mounted).
# Built by `llmops image build --target server`; the build context is prepared by llmops:
#   package.json, package-lock.json  llmops's dependency pins (npm ci --omit=dev; npm install
#                                    without the lock file, as in an installed llmops)
#   llmops.tgz                       `npm pack` of llmops (bin, dist, templates, oclif manifest)
#   model/                           the exported model folder, or empty
ARG BASE=node:20-bookworm-slim

# Stage 1: production node_modules. better-sqlite3 compiles from source where its prebuilt binary
# cannot be downloaded, hence python3, make and g++ here (and only here).
FROM ${BASE} AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip NODE_ENV=production
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/llmops
COPY package*.json ./
RUN if [ -f package-lock.json ]; then npm ci --omit=dev --no-audit --no-fund --loglevel=error; \
    else npm install --omit=dev --no-audit --no-fund --loglevel=error; fi \
 && npm cache clean --force >/dev/null 2>&1 \
 # onnxruntime-node ships binaries for six platforms: keep only this image's.
 && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && for d in node_modules/onnxruntime-node/bin/napi-v*/*/*; do \
      case "$d" in */"$keep") ;; *) rm -rf "$d" ;; esac; \
    done \
 && test -n "$(ls node_modules/onnxruntime-node/bin/napi-v*/"$keep")" \
 # Build leftovers of better-sqlite3 (object files, the bundled SQLite sources) are not needed at run time.
 && rm -rf node_modules/better-sqlite3/build/Release/obj* node_modules/better-sqlite3/build/Release/.deps \
      node_modules/better-sqlite3/deps node_modules/better-sqlite3/src
# ...and the platform folders left empty by that (darwin, win32).
RUN find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d -empty -delete
# The CLI itself last: a rebuilt llmops does not invalidate the dependency layer above.
ADD llmops.tgz /opt/
RUN mv /opt/package/* /opt/llmops/ && rm -rf /opt/package

# Stage 2: the image itself.
FROM ${BASE}
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip NO_COLOR=1 CI=1
RUN (getent passwd llmops >/dev/null || useradd --uid 10001 --user-group --create-home --home-dir /home/llmops --shell /usr/sbin/nologin llmops) \
 && mkdir -p /models /project && chown llmops:llmops /project
WORKDIR /opt/llmops
COPY --from=deps /opt/llmops ./
RUN ln -sf /opt/llmops/bin/run.js /usr/local/bin/llmops && llmops --version >/dev/null
COPY model/ /models/
USER llmops
WORKDIR /project
EXPOSE 8000
# No curl in slim images: Node asks /health (200 once the model is loaded, 503 while it loads).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8000/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
# The server's Node flags (SERVER_NODE_ARGS in src/lib/serve/deployments.ts), passed by llmops image build.
ARG NODE_OPTIONS=""
ENV NODE_OPTIONS=${NODE_OPTIONS}
ENTRYPOINT ["llmops"]
# Outside a loopback-only publish, clients must send the key in LLMOPS_API_KEY.
CMD ["deploy", "--model", "/models", "--host", "0.0.0.0", "--port", "8000", "--api-key-env", "LLMOPS_API_KEY"]
