// The stack as Kubernetes objects in one multi-document YAML file. services: per server a Deployment (and a Service
// when it has a port), a Job per task, one Ingress with the proxy's routes; pod: a Deployment running backend-manager.
import { createRequire } from 'node:module'
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import { proxyListeners, shellArgv, type Plan } from '../config/plan.ts'
import type { ServerConfig } from '../config/types.ts'
import { PROXY_HEALTH_PREFIX } from '../proxy/contract.ts'

export const KUBERNETES_MODES = ['services', 'pod'] as const
export type KubernetesMode = (typeof KUBERNETES_MODES)[number]

export interface KubernetesOptions {
  // Every object's name starts with it; it is also their app.kubernetes.io/part-of label.
  name: string
  mode?: KubernetesMode
  // pod mode: the config file as written, carried into the pod by a ConfigMap.
  configText?: string
}

type Obj = Record<string, unknown>
type Path = (string | number)[]
// One object, with comments: above it, and after the values at some paths in it.
interface Item {
  object: Obj
  above?: string[]
  notes?: [Path, string][]
}

// Where pod mode mounts the config: the image is expected to hold the servers' code there.
const APP_DIR = '/app'
const INGRESS_TIMEOUT = '3600'
const MI = 1024 * 1024

// A DNS-1035 label: what a Service name must be (and every other object name here is at least that strict).
function objectName(text: string, what: string): string {
  const name = text.replace(/_/g, '-')
  if (name.length > 63 || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name))
    throw new BackendManagerError(
      'CONFIG',
      `${what} gives the Kubernetes name ${JSON.stringify(name)}, expected at most 63 lowercase letters, digits` +
        ' and "-", starting with a letter and ending with a letter or digit; pass --name or rename the server',
    )
  return name
}

// Kubernetes expands $(VAR) in command, args and env values, and reads $$ as a literal $.
const literal = (text: string) => text.replace(/\$/g, '$$$$')
// {instance} becomes the pod's INSTANCE, which Kubernetes puts in as the command or value is used.
const place = (text: string, s: ServerConfig) =>
  literal(text)
    .replace(/\{port\}/g, String(s.port ?? ''))
    .replace(/\{name\}/g, s.name)
    .replace(/\{instance\}/g, '$(INSTANCE)')

// Probe commands are not expanded by Kubernetes: a shell check reads $INSTANCE; a list check has no shell to.
function probeCommand(check: string | string[], s: ServerConfig): string[] {
  const fill = (text: string) => text.replace(/\{port\}/g, String(s.port ?? '')).replace(/\{name\}/g, s.name)
  if (!Array.isArray(check)) return shellArgv(fill(check).replace(/\{instance\}/g, '$INSTANCE'))
  if (check.some((arg) => arg.includes('{instance}')))
    throw new BackendManagerError(
      'CONFIG',
      `servers.${s.name}.health.check uses {instance} in a list, which a Kubernetes probe cannot fill in;` +
        ' write the check as a string to read $INSTANCE',
    )
  return check.map(fill)
}

function probe(check: string | string[], s: ServerConfig, startDelay?: number): Obj | undefined {
  const { interval, timeout, retries } = s.liveness
  const port = s.port
  let action: Obj
  if (check === 'none') return undefined
  if (Array.isArray(check) || (check !== 'tcp' && !check.startsWith('/')))
    action = { exec: { command: probeCommand(check, s) } }
  else if (port === undefined) return undefined
  else if (check === 'tcp') action = { tcpSocket: { port } }
  else action = s.protocol === 'grpc' ? { grpc: { port } } : { httpGet: { path: check, port } }
  const seconds = (n: number) => Math.max(1, Math.ceil(n))
  return {
    ...action,
    ...(startDelay ? { initialDelaySeconds: Math.ceil(startDelay) } : {}),
    periodSeconds: seconds(interval),
    timeoutSeconds: seconds(timeout),
    failureThreshold: retries,
  }
}

const memory = (bytes: number) => (bytes % MI === 0 ? `${bytes / MI}Mi` : String(bytes))
const placeholder = (name: string) => `registry.example.invalid/${name}:latest`

function container(s: ServerConfig, plan: Plan, cname: string): Obj {
  const env: Record<string, string> = { ...s.env }
  delete env.INSTANCE
  Object.assign(env, {
    HOST: '0.0.0.0',
    SERVER_NAME: s.name,
    ENABLED_MODULES: s.modules.join(','),
    API_PREFIX: plan.proxy.api_prefix,
    ...(s.port === undefined ? {} : { PORT: String(s.port) }),
  })
  if (!Object.hasOwn(s.env, 'PYTHONUNBUFFERED')) env.PYTHONUNBUFFERED = '1'
  const readiness = s.kind === 'task' ? undefined : probe(s.health, s)
  const liveness = s.kind === 'task' ? undefined : probe(s.liveness.check, s, s.liveness.start_period)
  return {
    name: cname,
    image: s.image ?? placeholder(cname),
    command: Array.isArray(s.command) ? s.command.map((w) => place(w, s)) : shellArgv(place(s.command, s)),
    ...(s.port === undefined ? {} : { ports: [{ name: s.protocol, containerPort: s.port, protocol: 'TCP' }] }),
    env: [
      { name: 'INSTANCE', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...Object.entries(env).map(([name, value]) => ({ name, value: place(value, s) })),
    ],
    ...(readiness ? { readinessProbe: readiness } : {}),
    ...(liveness ? { livenessProbe: liveness } : {}),
    ...(s.max_memory === undefined ? {} : { resources: { limits: { memory: memory(s.max_memory) } } }),
  }
}

const CONTAINER: Path = ['spec', 'template', 'spec', 'containers', 0]

function serverItems(s: ServerConfig, plan: Plan, opts: KubernetesOptions): Item[] {
  const short = objectName(s.name, `server "${s.name}"`)
  const labels = { 'app.kubernetes.io/name': short, ...partOf(opts) }
  const metadata = { name: objectName(`${opts.name}-${s.name}`, `server "${s.name}" with --name ${opts.name}`), labels }
  const c = container(s, plan, short)
  const pod = {
    metadata: { labels },
    spec: { terminationGracePeriodSeconds: Math.ceil(s.stop_timeout), containers: [c] },
  }
  const notes: [Path, string][] = [
    [[...CONTAINER, 'env', 0], "INSTANCE is the pod's name: the pods of a Deployment or Job are alike"],
  ]
  if (s.image === undefined)
    notes.push([[...CONTAINER, 'image'], 'placeholder: set image: on this server in the config'])
  const above: string[] = []
  if (s.depends_on.length)
    above.push(
      `depends_on: ${s.depends_on.join(', ')}. Kubernetes starts every object at once: this server must retry what`,
      'it needs until it answers (or add an initContainer that waits for it).',
    )
  if (s.kind === 'task') {
    const template = { ...pod, spec: { ...pod.spec, restartPolicy: 'Never' } }
    const spec = { backoffLimit: 0, completions: s.instances, parallelism: s.instances, template }
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata, spec }
    above.push('A task runs once, as start runs it: never restarted (backoffLimit 0).')
    return [{ object: job, above, notes }]
  }
  const spec = { replicas: s.instances, selector: { matchLabels: labels }, template: pod }
  const items: Item[] = [{ object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec }, above, notes }]
  if (s.instances > 1)
    above.push(`${s.instances} replicas: every pod has its own address, so each listens on the first port.`)
  if (s.port !== undefined) items.push(service(metadata, [{ name: s.protocol, port: s.port }]))
  return items
}

// The proxy's HTTP routes, as the generated nginx has them; gRPC servers are reached through their Services.
function ingress(plan: Plan, opts: KubernetesOptions): Item[] {
  if (plan.proxy.type === 'none' || plan.routes.length === 0) return []
  const servers = plan.servers ?? []
  const paths = plan.routes.map((r) => ({
    path: r.path,
    pathType: 'Prefix',
    backend: {
      service: {
        name: objectName(`${opts.name}-${r.upstream}`, `server "${r.upstream}"`),
        port: { number: servers.find((s) => s.name === r.upstream)!.port },
      },
    },
  }))
  const annotations = {
    'nginx.ingress.kubernetes.io/proxy-read-timeout': INGRESS_TIMEOUT,
    'nginx.ingress.kubernetes.io/proxy-send-timeout': INGRESS_TIMEOUT,
  }
  const metadata = { name: objectName(opts.name, `--name ${opts.name}`), labels: partOf(opts), annotations }
  const spec = { ingressClassName: 'nginx', rules: [{ http: { paths } }] }
  const above = ["The proxy's routes; a WebSocket may stay quiet for an hour, as behind the generated nginx."]
  return [{ object: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec }, above }]
}

// A ClusterIP Service in front of the pods with these labels, on the ports their container listens on.
function service(metadata: { name: string; labels: Obj }, ports: { name: string; port: number }[]): Item {
  const spec = { type: 'ClusterIP', selector: metadata.labels, ports: ports.map((p) => ({ ...p, targetPort: p.port })) }
  return { object: { apiVersion: 'v1', kind: 'Service', metadata, spec } }
}

const partOf = (opts: KubernetesOptions) => ({ 'app.kubernetes.io/part-of': opts.name })

function podItems(plan: Plan, opts: KubernetesOptions): Item[] {
  const name = objectName(opts.name, `--name ${opts.name}`)
  const labels = { 'app.kubernetes.io/name': name, ...partOf(opts) }
  // A ConfigMap key is letters, digits and "-._".
  const file = /^[-._a-zA-Z0-9]+$/.test(path.basename(plan.file)) ? path.basename(plan.file) : 'dev-config.yaml'
  const listen = proxyListeners(plan.proxy, plan.upstreams)
  const ports = [
    ...(listen.http === undefined ? [] : [{ name: 'http', containerPort: listen.http, protocol: 'TCP' }]),
    ...(listen.grpc === undefined ? [] : [{ name: 'grpc', containerPort: listen.grpc, protocol: 'TCP' }]),
  ]
  const front = ports[0]?.containerPort
  const checked = listen.http === undefined ? undefined : plan.upstreams.find((u) => u.healthPath)
  const servers = plan.servers ?? []
  const every = (action: Obj, failureThreshold = 3) => ({
    ...action,
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold,
  })
  const tcp = { tcpSocket: { port: front } }
  const health = checked && { httpGet: { path: `${PROXY_HEALTH_PREFIX}${checked.name}`, port: front } }
  // Everything starts one after the other at worst: the startup probe waits that long before liveness counts.
  const startup = servers.reduce((sum, s) => sum + s.ready_timeout, 0)
  const probes =
    front === undefined
      ? {}
      : {
          startupProbe: every(tcp, Math.ceil(startup / 5) + 1),
          readinessProbe: every(health || tcp),
          livenessProbe: every(tcp),
        }
  const env = Object.entries(plan.variables ?? {}).flatMap(([k, v]) =>
    v === null ? [] : [{ name: k, value: literal(v) }],
  )
  const c = {
    name: 'backend-manager',
    image: placeholder(name),
    workingDir: APP_DIR,
    command: ['backend-manager', 'start', '--foreground', file],
    ...(ports.length ? { ports } : {}),
    ...(env.length ? { env } : {}),
    ...probes,
    volumeMounts: [{ name: 'config', mountPath: `${APP_DIR}/${file}`, subPath: file, readOnly: true }],
  }
  const stop = Math.ceil(Math.max(0, ...servers.map((s) => s.stop_timeout))) + 5
  const volumes = [{ name: 'config', configMap: { name: `${name}-config` } }]
  const podSpec = { terminationGracePeriodSeconds: stop, containers: [c], volumes }
  const spec = { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } }
  const config = { metadata: { name: `${name}-config`, labels }, data: { [file]: podConfig(plan, opts) } }
  const items: Item[] = [
    {
      object: { apiVersion: 'v1', kind: 'ConfigMap', ...config },
      above: [`${file}, the proxy listening on every address of the pod so the Service reaches it.`],
    },
    {
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels }, spec },
      above: ['Each pod runs the whole stack, every server with its instances, behind its own proxy.'],
      notes: [
        [['spec', 'replicas'], `pods: kubectl scale deployment/${name} --replicas=N`],
        [[...CONTAINER, 'image'], `placeholder: an image with backend-manager, nginx and the code in ${APP_DIR}`],
      ],
    },
  ]
  const servicePorts = ports.map((p) => ({ name: p.name, port: p.containerPort }))
  if (ports.length) items.push(service({ name, labels }, servicePorts))
  return items
}

// The config as written (comments kept), with the proxy bound to every address of the pod.
function podConfig(plan: Plan, opts: KubernetesOptions): string {
  const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
  const doc = YAML.parseDocument(opts.configText ?? '')
  if (plan.proxy.type !== 'none') doc.setIn(['proxy', 'host'], '0.0.0.0')
  return doc.toString({ lineWidth: 0 })
}

function emit(items: Item[]): string {
  // zx carries the yaml package; it is loaded only when something is exported.
  const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
  return items
    .map(({ object, above, notes }) => {
      const doc = new YAML.Document(object, { aliasDuplicateObjects: false })
      if (above?.length) doc.commentBefore = above.map((l) => ` ${l}`).join('\n')
      for (const [at, note] of notes ?? []) {
        const node = doc.getIn(at, true) as { comment?: string; commentBefore?: string } | undefined
        if (node && typeof node === 'object' && 'items' in node) node.commentBefore = ` ${note}`
        else if (node) node.comment = ` ${note}`
      }
      return doc.toString({ lineWidth: 0 })
    })
    .join('---\n')
}

// Files to write: NAME.yaml, every object in it; pure.
export function renderKubernetes(plan: Plan, opts: KubernetesOptions): Record<string, string> {
  const mode = opts.mode ?? 'services'
  const items =
    mode === 'pod'
      ? podItems(plan, opts)
      : [...(plan.servers ?? []).flatMap((s) => serverItems(s, plan, opts)), ...ingress(plan, opts)]
  const file = `${opts.name}.yaml`
  const head = `backend-manager export kubernetes --mode ${mode}, from ${path.basename(plan.file)}: kubectl apply -f ${file}`
  if (items.length) items[0] = { ...items[0], above: [head, ...(items[0].above ?? [])] }
  return { [file]: emit(items) }
}
