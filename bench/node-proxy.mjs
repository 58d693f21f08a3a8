// A reverse proxy as a Node shop would write it with the http-proxy package: round robin over TARGETS,
// keep-alive to the backends, X-Forwarded-* added; 127.0.0.1 only. Used by the bench's proxy comparison.
import http from 'node:http'
import httpProxy from 'http-proxy'

const port = Number(process.env.PORT)
const targets = (process.env.TARGETS ?? '').split(',').filter(Boolean)
if (!Number.isInteger(port) || targets.length === 0) {
  console.error('node-proxy: set PORT and TARGETS (comma-separated http://127.0.0.1:PORT)')
  process.exit(2)
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 32 })
const proxy = httpProxy.createProxyServer({ agent, xfwd: true })
proxy.on('error', (_error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502)
  res.end()
})
let next = 0
const server = http.createServer((req, res) => proxy.web(req, res, { target: targets[next++ % targets.length] }))
server.keepAliveTimeout = 65_000
server.listen(port, '127.0.0.1', () => console.log(`node-proxy on http://127.0.0.1:${port} -> ${targets.join(' ')}`))
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
