// Demo server for the bundled config: /health, a JSON "who answered" on every other path,
// and a WebSocket echo on every path (the contract's endpoint is <API_PREFIX>/<module>/ws).
import http from 'node:http'
import { WebSocketServer } from 'ws'

const port = Number(process.env.PORT)
const host = process.env.HOST ?? '127.0.0.1'
const name = process.env.SERVER_NAME ?? 'demo'
const instance = Number(process.env.INSTANCE ?? 0)
const modules = (process.env.ENABLED_MODULES ?? '').split(',').filter(Boolean)

if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`${name}: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`)
  process.exit(2)
}

// Each accepted TCP connection gets a number, so a client can see whether its requests share one.
let connections = 0
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    return
  }
  const body = JSON.stringify({
    server: name,
    instance,
    port,
    path: url.pathname,
    connection: (req.socket as unknown as { id: number }).id,
  })
  res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n')
})
server.on('connection', (socket) => {
  ;(socket as unknown as { id: number }).id = ++connections
})
server.keepAliveTimeout = 65_000

const wss = new WebSocketServer({ noServer: true })
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${name}-${instance}: ${data.toString()}`))
  })
})

server.listen(port, host, () =>
  console.log(`${name}-${instance} listening on http://${host}:${port} modules=[${modules.join(',')}]`),
)

// Exit promptly on stop: close listeners, drop idle keep-alive sockets.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    console.log(`${name}-${instance} got ${signal}, shutting down`)
    for (const client of wss.clients) client.terminate()
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}
