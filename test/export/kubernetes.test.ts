// export kubernetes: both modes as text (golden files; UPDATE_GOLDEN=1 rewrites them), every object accepted by the
// kubernetes-models validators and by its TypeScript types (which also refuse unknown fields), and the CLI end to end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import ts from 'typescript'
import { YAML } from 'zx'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service } from 'kubernetes-models/v1/Service'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { Job } from 'kubernetes-models/batch/v1/Job'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { packageRoot } from '../../lib/core/home.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { renderKubernetes, type KubernetesMode } from '../../lib/export/kubernetes.ts'
import { runCli } from '../helpers.ts'

const CONFIG = `# The shop: a migration, a root app, a module server and a worker.
proxy: { type: nginx, port: 8000, api_prefix: /api/v1 }
servers:
  - name: migrate
    kind: task
    command: ./migrate --to latest
    image: registry.example.com/shop/app:1.4
  - name: web
    command: "uvicorn app:app --host $HOST --port {port} # shard {instance}"
    port: 8001
    instances: 2
    depends_on: [migrate]
    image: registry.example.com/shop/app:1.4
    health: { check: /healthz, interval: 10, timeout: 3, retries: 4, start_period: 20 }
    env: { GREETING: "50% off, \\"quoted\\" $(not expanded)", SHARD: "{instance}" }
    max_memory: 512M
    stop_timeout: 15
  - name: broker
    command: [node, broker.js, "--port={port}"]
    port: 8010
    modules: [broker, quotes]
    health: tcp
  - name: queue_worker
    command: node queue.js
    health: { check: "test -f /tmp/alive-{name}", interval: 5 }
    max_memory: 300M
`
const FILE = '/dev-config.yaml'
const render = (mode: KubernetesMode) =>
  renderKubernetes(resolvePlan(parseConfig(CONFIG, FILE, { env: {} })), { name: 'shop', mode, configText: CONFIG })
const objects = (text: string) => YAML.parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>)

const MODELS = { ConfigMap, Service, Deployment, Job, Ingress } as const
const TYPES: Record<string, [string, string]> = {
  ConfigMap: ['kubernetes-models/v1/ConfigMap', 'IConfigMap'],
  Service: ['kubernetes-models/v1/Service', 'IService'],
  Deployment: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  Job: ['kubernetes-models/batch/v1/Job', 'IJob'],
  Ingress: ['kubernetes-models/networking.k8s.io/v1/Ingress', 'IIngress'],
}

function validate(object: Record<string, any>): void {
  const Model = MODELS[object.kind as keyof typeof MODELS]
  assert.ok(Model, `no validator for kind ${object.kind}`)
  new Model(object as never).validate()
}

// Each object as a literal of its kubernetes-models type: the compiler refuses a wrong type and an unknown field.
function typeErrors(list: Record<string, any>[]): string[] {
  const file = path.join(packageRoot, 'test', 'export', 'kubernetes-objects.check.ts')
  const source = list
    .map((o, i) => {
      const [from, type] = TYPES[o.kind] ?? assert.fail(`no type for kind ${o.kind}`)
      return `import type { ${type} as T${i} } from '${from}'\nexport const o${i}: T${i} = ${JSON.stringify(o)}\n`
    })
    .join('')
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  }
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version, ...rest) =>
    name === file ? ts.createSourceFile(name, source, version) : read(name, version, ...rest)
  host.fileExists = (
    (exists) => (name: string) =>
      name === file || exists(name)
  )(host.fileExists.bind(host))
  const program = ts.createProgram([file], options, host)
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(-1)[0])
}

for (const mode of ['services', 'pod'] as const) {
  const golden = path.join(packageRoot, 'test', 'golden', `kubernetes-${mode}.yaml`)
  test(`golden: export kubernetes --mode ${mode}`, () => {
    const files = render(mode)
    assert.deepEqual(Object.keys(files), ['shop.yaml'])
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, files['shop.yaml'])
    assert.equal(files['shop.yaml'], fs.readFileSync(golden, 'utf8'), `${golden} differs; UPDATE_GOLDEN=1 if intended`)
  })
}

test('every object of both modes passes kubernetes-models validation and its type check', () => {
  const services = objects(render('services')['shop.yaml'])
  const pod = objects(render('pod')['shop.yaml'])
  assert.deepEqual([...new Set(services.map((o) => o.kind))], ['Job', 'Deployment', 'Service', 'Ingress'])
  assert.deepEqual([...new Set(pod.map((o) => o.kind))], ['ConfigMap', 'Deployment', 'Service'])
  for (const o of [...services, ...pod]) validate(o)
  assert.deepEqual(typeErrors([...services, ...pod]), [])
})

test('the validators bite: a mis-typed field, a missing one and an unknown one are refused', () => {
  const list = objects(render('services')['shop.yaml'])
  const web = list.find((o) => o.kind === 'Deployment' && o.metadata.name === 'shop-web')!
  const wrong = structuredClone(web)
  wrong.spec.template.spec.containers[0].ports[0].containerPort = '8001'
  assert.throws(() => validate(wrong), /containerPort must be integer/)
  for (const o of list) {
    const bad = structuredClone(o)
    bad.metadata.labels = ['not', 'a', 'map']
    assert.throws(() => validate(bad), /labels must be object/, `${o.kind} with a list for labels`)
  }
  const nameless = structuredClone(web)
  delete nameless.spec.template.spec.containers[0].name
  assert.throws(() => validate(nameless), /containers\/0 must have required property name/)
  const misspelled = structuredClone(web)
  misspelled.spec.template.spec.containers[0].readinesProbe = misspelled.spec.template.spec.containers[0].readinessProbe
  const errors = typeErrors([misspelled, { ...list[0], spec: { ...list[0].spec, backoffLimit: '0' } }])
  assert.equal(errors.length, 2, errors.join('\n'))
  assert.match(errors.join('\n'), /'"readinesProbe"' does not exist in type 'IContainer'/)
  assert.match(errors.join('\n'), /Type 'string' is not assignable to type 'number'/)
})

test('export kubernetes -o DIR (and k8s --mode pod) through the CLI; a bad --mode exits 2', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-k8s-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'dev-config.yaml'), CONFIG)
  const home = path.join(dir, 'home')
  const out = path.join(dir, 'out')
  const r = await runCli(home, ['export', 'kubernetes', '-o', out, '--name', 'shop'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fs.readdirSync(out), ['shop.yaml'])
  assert.match(r.stdout, /kubectl apply -f .*shop\.yaml/)
  const services = fs.readFileSync(path.join(out, 'shop.yaml'), 'utf8')
  assert.equal(services, fs.readFileSync(path.join(packageRoot, 'test', 'golden', 'kubernetes-services.yaml'), 'utf8'))
  const pod = await runCli(home, ['export', 'k8s', '--mode', 'pod', '-o', out, '--name', 'shop'], { cwd: dir })
  assert.equal(pod.code, 0, pod.stderr)
  const config = objects(fs.readFileSync(path.join(out, 'shop.yaml'), 'utf8')).find((o) => o.kind === 'ConfigMap')!
  assert.match(config.data['dev-config.yaml'], /host: 0\.0\.0\.0/)
  const bad = await runCli(home, ['export', 'kubernetes', '--mode', 'pods', '-o', out], { cwd: dir })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--mode: expected one of services, pod, got "pods"/)
  const other = await runCli(home, ['export', 'systemd', '--mode', 'pod', '-o', out], { cwd: dir })
  assert.equal(other.code, 2)
  assert.match(other.stderr, /--mode is for export kubernetes/)
})
