// The stack as systemd user units: a template unit per server (NAME@PORT.service, one instance per port, its
// INSTANCE in a drop-in), one for the generated nginx, and a target that starts them all. Pure: files as text.
import path from 'node:path'
import { fillTemplate, loadTemplate } from '../core/template.ts'
import { homeAt } from '../core/home.ts'
import { BackendManagerError } from '../core/errors.ts'
import type { Plan } from '../config/plan.ts'
import type { ServerConfig } from '../config/types.ts'
import { nginxPaths, renderNginxConf } from '../proxy/nginx/render.ts'

export interface SystemdOptions {
  // The unit names' prefix: <name>-<server>@.service, <name>-nginx.service, <name>.target.
  name: string
  // Where the units and nginx's config will live (absolute): nginx's paths point inside it.
  dir: string
  nginx: string
}

const RESTART = { no: 'no', 'on-failure': 'on-failure', always: 'always' } as const

// A value inside "..." of a unit file: C-style escapes; % is a specifier, so a literal one is %%.
const quoted = (text: string) =>
  `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/%/g, '%%')}"`
// In Exec lines systemd also expands $VAR: a literal $ is $$.
const execWord = (text: string) => quoted(text).replace(/\$/g, '$$$$')
// {port} is the instance (%i), {instance} the INSTANCE its drop-in sets, {name} the server's name.
const place = (text: string, name: string) =>
  text
    .replace(/\{port\}/g, '\u0000P')
    .replace(/\{instance\}/g, '\u0000I')
    .replace(/\{name\}/g, name)
const fill = (text: string, inExec: boolean) =>
  text.replace(/\u0000P/g, '%i').replace(/\u0000I/g, inExec ? '${INSTANCE}' : '')

function execStart(server: ServerConfig): string {
  const words = Array.isArray(server.command) ? server.command : ['/bin/sh', '-c', server.command]
  return words.map((w) => fill(execWord(place(w, server.name)), true)).join(' ')
}

function environment(server: ServerConfig, plan: Plan): string {
  const env: Record<string, string> = {
    ...server.env,
    HOST: server.host,
    SERVER_NAME: server.name,
    ENABLED_MODULES: server.modules.join(','),
    API_PREFIX: plan.proxy.api_prefix,
    ...(server.port === undefined ? {} : { PORT: '{port}' }),
  }
  if (!Object.hasOwn(server.env, 'PYTHONUNBUFFERED')) env.PYTHONUNBUFFERED = '1'
  for (const [k, v] of Object.entries(server.env))
    if (/\{instance\}/.test(v))
      throw new BackendManagerError(
        'CONFIG',
        `servers.${server.name}.env.${k} uses {instance}, which a systemd unit cannot set in an environment` +
          ' value; use $INSTANCE in the command instead',
      )
  return Object.entries(env)
    .map(([k, v]) => `Environment=${fill(quoted(`${k}=${place(v, server.name)}`), false)}`)
    .join('\n')
}

export function renderSystemdUnits(plan: Plan, opts: SystemdOptions): Record<string, string> {
  const servers = plan.servers ?? []
  const unit = (s: string) => `${opts.name}-${s}`
  // Each instance's %i: its port; a portless server's instances are numbered from 0 instead.
  const instances = (s: ServerConfig) => Array.from({ length: s.instances }, (_, i) => (s.port ?? 0) + i)
  const units = (s: ServerConfig) => instances(s).map((i) => `${unit(s.name)}@${i}.service`)
  const target = `${opts.name}.target`
  const files: Record<string, string> = {}
  const common = { config_name: path.basename(plan.file), target }
  for (const s of servers) {
    const deps = servers.filter((d) => s.depends_on.includes(d.name)).flatMap(units)
    files[`${unit(s.name)}@.service`] = fillTemplate(loadTemplate('systemd/server@.service'), {
      ...common,
      unit_prefix: unit(s.name),
      description: `${opts.name} ${s.name} (${s.port === undefined ? 'instance' : 'port'} %i)`,
      dependencies: deps.length ? `\nWants=${deps.join(' ')}\nAfter=${deps.join(' ')}` : '',
      type: s.kind === 'task' ? 'oneshot\nRemainAfterExit=yes' : 'simple',
      cwd: s.cwd,
      environment: environment(s, plan),
      exec_start: execStart(s),
      restart: s.kind === 'task' ? 'no' : RESTART[s.restart],
      stop_timeout: String(s.stop_timeout),
    })
    instances(s).forEach((port, i) => {
      files[`${unit(s.name)}@${port}.service.d/instance.conf`] =
        `# Which instance this port is (INSTANCE, as backend-manager sets it).\n[Service]\nEnvironment=INSTANCE=${i}\n`
    })
  }
  const all = servers.flatMap(units)
  if (plan.proxy.type === 'nginx' && plan.upstreams.length > 0) {
    const behind = servers.filter((s) => plan.upstreams.some((u) => u.name === s.name)).flatMap(units)
    const conf = nginxPaths(homeAt(opts.dir)).conf
    files[path.relative(opts.dir, conf)] = renderNginxConf(plan, homeAt(opts.dir))
    files[`${unit('nginx')}.service`] = fillTemplate(loadTemplate('systemd/nginx.service'), {
      ...common,
      description: `${opts.name} nginx`,
      dependencies: `\nWants=${behind.join(' ')}\nAfter=${behind.join(' ')}`,
      exec_start: [opts.nginx, '-p', opts.dir, '-c', conf].map(execWord).join(' '),
    })
    all.push(`${unit('nginx')}.service`)
  }
  files[target] = fillTemplate(loadTemplate('systemd/stack.target'), {
    ...common,
    name: opts.name,
    units: all.join(' '),
  })
  return files
}
