// A steady, bounded load for end-to-end tests: real HTTP requests to 127.0.0.1 at 200 per second, counting every
// failure, so a change to a running stack can be shown to drop no request.
import http from 'node:http'

// A steady, bounded load to 127.0.0.1: one request every 5 ms (200 per second), at most 64 in flight, a fresh
// client connection each; counts answers per backend port and every failure (non-2xx or error).
// The backend port a fixture server names in its JSON answer (http-server.mjs does); -1 for any other answer.
function portIn(body: string): number {
  try {
    const port = (JSON.parse(body) as { port?: unknown }).port
    return typeof port === 'number' ? port : -1
  } catch {
    return -1
  }
}

export class Load {
  ok = 0
  failed: string[] = []
  // Which backend port answered each request, by the order the requests were sent in.
  answers: { sent: number; port: number }[] = []
  sent = 0
  private inFlight = new Set<Promise<void>>()
  private timer?: NodeJS.Timeout

  start(url: string): void {
    this.timer = setInterval(() => {
      if (this.inFlight.size >= 64) return
      const request = this.one(url)
      this.inFlight.add(request)
      void request.finally(() => this.inFlight.delete(request))
    }, 5)
  }

  // Answers from `port` to requests sent after the `from`th.
  servedBy(port: number, from = 0): number {
    return this.answers.filter((a) => a.port === port && a.sent > from).length
  }

  private one(url: string): Promise<void> {
    const sent = ++this.sent
    return new Promise((resolve) => {
      const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (d: string) => (body += d))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) {
            this.ok++
            this.answers.push({ sent, port: portIn(body) })
          } else this.failed.push(`HTTP ${status}: ${body.slice(0, 80)}`)
          resolve()
        })
      })
      req.once('timeout', () => req.destroy(new Error('no answer within 10 s')))
      req.once('error', (error) => {
        this.failed.push(error.message)
        resolve()
      })
    })
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await Promise.all([...this.inFlight])
  }
}
