# syntax=docker/dockerfile:1
# lbdns image: TypeScript compiled in a build stage; the runtime runs `node bin/lbdns.js serve` as a non-root user.
#
#   docker build -t lbdns .
#   docker run -d --name lbdns --restart unless-stopped \
#     --cap-drop ALL --cap-add NET_BIND_SERVICE \
#     -e DATABASE_URL=postgres://lbdns:secret@db.internal:5432/lbdns -e LBDNS_NODE_NAME=ns1 \
#     -p 53:53/udp -p 53:53/tcp -p 127.0.0.1:9153:9153/tcp lbdns
#
# Configuration is by environment only: every LBDNS_* variable in README.md, plus
# DATABASE_URL (unset: the embedded PostgreSQL in /var/lib/lbdns, which then needs a volume).
# Inside the image, and only there, lbdns listens on every address by default
# (LBDNS_LISTEN=0.0.0.0:53,[::]:53, LBDNS_HTTP_LISTEN=0.0.0.0:9153): the container's own
# network is the boundary, and `-p` decides what the host exposes. In an HA pair
# (docs/ha.md) run with --network host and set LBDNS_LISTEN to the VIP and the node's address.
# Port 53 is below 1024: the node binary carries cap_net_bind_service, which works only while
# the container keeps NET_BIND_SERVICE in its bounding set (Docker's default; with
# --cap-drop ALL add it back, as above).

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: dev dependencies (esbuild) and the sources; `npm ci` runs `prepare`, which bundles src/ into dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm ci --no-audit --no-fund

# 2. Runtime dependencies only (no build step: the bundle comes from stage 1).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. The image: the bundle in dist/, production node_modules, migrations; no src/ and no transpiler.
FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && groupadd --system lbdns \
 && useradd --system --gid lbdns --home-dir /var/lib/lbdns --shell /usr/sbin/nologin lbdns \
 && install -d -o lbdns -g lbdns -m 0750 /var/lib/lbdns
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations

ENV NODE_ENV=production \
    LBDNS_LISTEN=0.0.0.0:53,[::]:53 \
    LBDNS_HTTP_LISTEN=0.0.0.0:9153 \
    LBDNS_DATA_DIR=/var/lib/lbdns

USER lbdns
EXPOSE 53/udp 53/tcp 9153/tcp

# Asks the DNS port itself (CHAOS TXT id.server over UDP to the first LBDNS_LISTEN address,
# 0.0.0.0/:: meaning loopback): healthy only when lbdns answers, not merely when it runs.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "const d=require('node:dgram');const l=(process.env.LBDNS_LISTEN||'0.0.0.0:53').split(',')[0].trim();const m=/^\[?([^\]]*)\]?:(\d+)$/.exec(l);let h=m[1];if(h==='0.0.0.0')h='127.0.0.1';if(h==='::')h='::1';const s=d.createSocket(h.includes(':')?'udp6':'udp4');s.on('message',r=>process.exit(r.readUInt16BE(0)===0xabcd&&r[2]&128&&(r[3]&15)===0?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000);s.send(Buffer.from('abcd00000001000000000000026964067365727665720000100003','hex'),+m[2],h)"

CMD ["node", "bin/lbdns.js", "serve"]
