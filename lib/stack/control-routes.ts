// What the control socket answers, as data: one route per command the running stack takes.
import type { Home } from '../core/home.ts'
import { applyConfig } from './apply.ts'
import { Dashboard } from './dashboard.ts'
import type { ControlRoute } from './control-server.ts'
import type { SupervisorEvent } from './events.ts'
import { targetNames, type LiveStack } from './live.ts'
import { restartRoute } from './rolling.ts'
import { collectStatus } from './status.ts'
import { scaleAnswer } from './scale.ts'
import { pauseInstances, resumeInstances } from './pause.ts'

// One event as a line of the stream: newline-delimited JSON, so `curl -N` and a line reader both follow it.
const eventLine = (e: SupervisorEvent) => JSON.stringify(e) + '\n'

export function controlRoutes(home: Home, live: LiveStack): ControlRoute[] {
  // Served from the first `dashboard` on; its buttons answer through these same routes.
  let dashboard: Dashboard | undefined
  const openDashboard = () => {
    if (!dashboard) live.keepWatching((dashboard = new Dashboard(home, live, () => routes)))
    return dashboard.open()
  }
  const routes: ControlRoute[] = [
    { method: 'GET', path: '/v1/status', answer: () => collectStatus(home) },
    { method: 'POST', path: '/v1/logs/clean', answer: () => ({ files: live.cleanLogs() }) },
    { method: 'POST', path: '/v1/restart', answer: restartRoute(live) },
    { method: 'POST', path: '/v1/scale', answer: (body) => scaleAnswer(live, body) },
    { method: 'POST', path: '/v1/pause', answer: (body) => pauseInstances(live, targetNames(body.targets)) },
    { method: 'POST', path: '/v1/resume', answer: (body) => resumeInstances(live, targetNames(body.targets)) },
    { method: 'POST', path: '/v1/apply', answer: (body) => applyConfig(home, live, body) },
    {
      // The kept events (newer than ?since=MS), then each new one as it happens; ?follow=0 ends after the kept ones.
      method: 'GET',
      path: '/v1/events',
      stream(res, query) {
        const since = Number(query.get('since') ?? 0) || 0
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
        // Sent now, not with the first event: a client knows it is subscribed once it has them.
        res.flushHeaders()
        for (const e of live.events.recent()) if (e.time > since) res.write(eventLine(e))
        if (query.get('follow') === '0') return void res.end()
        const unsubscribe = live.events.subscribe((e) => res.write(eventLine(e)))
        res.on('close', unsubscribe)
      },
    },
    { method: 'POST', path: '/v1/dashboard', answer: openDashboard },
  ]
  return routes
}
