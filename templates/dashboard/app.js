// The dashboard page: everything it shows arrives on one event stream; the buttons post to the same server.
// Data only ever goes in as textContent, never as markup.
'use strict'
const $ = (id) => document.getElementById(id)
const MAX_LOG = 2000
let status = { processes: [] }
let rates = {}
let filter = ''
const known = new Set()

function el(tag, text, cls) {
  const e = document.createElement(tag)
  if (text !== undefined) e.textContent = String(text)
  if (cls) e.className = cls
  return e
}
const serverOf = (id) => id.replace(/-\d+$/, '')
const mb = (b) => (b == null ? '' : (b / 1048576).toFixed(1) + ' MB')
function ago(ms) {
  if (ms == null) return ''
  const s = Math.floor(ms / 1000)
  return s < 60
    ? s + 's'
    : s < 3600
      ? Math.floor(s / 60) + 'm'
      : Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm'
}

async function post(action, body) {
  $('said').textContent = action + '…'
  try {
    const res = await fetch('api/' + action, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const answer = await res.json()
    $('said').textContent = res.ok
      ? action + ': done'
      : action + ': ' + (answer.error ? answer.error.message : res.status)
  } catch (e) {
    $('said').textContent = action + ': ' + e.message
  }
}

function button(label, action, body, title) {
  const b = el('button', label)
  b.dataset.action = action
  b.title = title
  b.addEventListener('click', () => post(action, body))
  return b
}

function renderStatus() {
  $('home').textContent = status.home || ''
  const rows = []
  const counts = {}
  for (const p of status.processes) if (p.kind === 'server') counts[p.name] = (counts[p.name] || 0) + 1
  for (const p of status.processes) {
    const tr = el('tr')
    tr.dataset.id = p.id
    const rate = p.port != null ? rates['127.0.0.1:' + p.port] : undefined
    const cells = [
      [p.id],
      [p.pid, 'num pid'],
      [p.port == null ? '' : p.port, 'num'],
      [p.state, p.state === 'paused' ? 'paused' : p.state === 'running' ? 'ok' : 'bad'],
      [p.health, p.healthy ? 'ok' : 'bad'],
      [ago(p.uptimeMs), 'num'],
      [p.restarts, 'num'],
      [p.cpuPercent == null ? '' : p.cpuPercent + '%', 'num'],
      [mb(p.rssBytes), 'num'],
      [rate == null ? '' : rate, 'num rate'],
    ]
    for (const [text, cls] of cells) tr.append(el('td', text, cls))
    const actions = el('td')
    if (p.kind === 'server') {
      const t = { targets: [p.id] }
      actions.append(button('restart', 'restart', t, 'restart ' + p.id))
      actions.append(
        p.state === 'paused'
          ? button('resume', 'resume', t, 'resume ' + p.id)
          : button('pause', 'pause', t, 'pause ' + p.id),
      )
      const n = counts[p.name]
      actions.append(button('+', 'scale', { servers: { [p.name]: n + 1 } }, 'scale ' + p.name + ' to ' + (n + 1)))
      if (n > 1)
        actions.append(button('−', 'scale', { servers: { [p.name]: n - 1 } }, 'scale ' + p.name + ' to ' + (n - 1)))
      if (!known.has(p.name)) {
        known.add(p.name)
        const o = el('option', p.name)
        o.value = p.name
        $('filter').append(o)
      }
    }
    tr.append(actions)
    rows.push(tr)
  }
  $('status').tBodies[0].replaceChildren(...rows)
}

function shown(line) {
  if (!filter) return true
  const id = line.split(/\s|[>!]>/)[0]
  return serverOf(id) === filter
}

function addLog(lines) {
  const log = $('log')
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4
  for (const line of lines) {
    const owner = line.split(' ')[0]
    const d = el('div', line, / !> /.test(line.slice(0, 24)) ? 'err' : owner === 'supervisor' ? 'sup' : '')
    d.dataset.server = serverOf(owner)
    if (!shown(line)) d.hidden = true
    log.append(d)
  }
  while (log.childElementCount > MAX_LOG) log.firstElementChild.remove()
  if (atEnd) log.scrollTop = log.scrollHeight
}

function addEvent(e) {
  const list = $('events')
  list.prepend(el('li', new Date(e.time).toLocaleTimeString() + '  ' + e.text))
  while (list.childElementCount > 100) list.lastElementChild.remove()
}

$('filter').addEventListener('change', (ev) => {
  filter = ev.target.value
  for (const d of $('log').children) d.hidden = !!filter && d.dataset.server !== filter
  $('log').scrollTop = $('log').scrollHeight
})

const stream = new EventSource('events')
stream.addEventListener('open', () => ($('conn').textContent = 'live'))
stream.addEventListener('error', () => ($('conn').textContent = 'disconnected; retrying…'))
stream.addEventListener('status', (m) => {
  status = JSON.parse(m.data)
  renderStatus()
  document.body.dataset.ready = '1'
})
stream.addEventListener('rates', (m) => (rates = JSON.parse(m.data)))
stream.addEventListener('log', (m) => addLog(JSON.parse(m.data)))
stream.addEventListener('event', (m) => addEvent(JSON.parse(m.data)))
