// Every generated Envoy config (the golden files, which the renderer's tests keep equal to what it renders) checked
// against Envoy's own v3 API protos: accepted as a Bootstrap; and configs with one thing wrong are refused, each
// naming the value's path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { YAML } from 'zx'
import { packageRoot } from '../../lib/core/home.ts'
import { checkEnvoyBootstrap } from '../../lib/proxy/envoy/proto-check.ts'

const goldenDir = path.join(packageRoot, 'test', 'golden')
const goldens = fs.readdirSync(goldenDir).filter((f) => f.startsWith('envoy-') && f.endsWith('.yaml'))
const load = (file: string) => YAML.parse(fs.readFileSync(path.join(goldenDir, file), 'utf8'))

test('the Envoy configs we generate are valid v3 Bootstraps, typed_config included', () => {
  assert.ok(goldens.length >= 3, `golden Envoy configs: ${goldens.join(', ')}`)
  for (const file of goldens) assert.deepEqual(checkEnvoyBootstrap(load(file)), [], file)
})

type Doc = any
const manager = (d: Doc) => d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
const cluster = (d: Doc) => d.static_resources.clusters[0]

const broken: [string, (d: Doc) => void, RegExp][] = [
  [
    'an unknown top-level field',
    (d) => (d.admins = {}),
    /^\(top\): unknown field "admins" in envoy\.config\.bootstrap/,
  ],
  [
    'a port that is not a number',
    (d) => (d.admin.address.socket_address.port_value = 'eighty'),
    /^admin\.address\.socket_address\.port_value: "eighty" is not a non-negative integer/,
  ],
  [
    'a bad enum value',
    (d) => (manager(d).codec_type = 'HTTP4'),
    /codec_type: "HTTP4" is not one of AUTO, HTTP1, HTTP2/,
  ],
  [
    'an unknown field inside a typed_config',
    (d) => (manager(d).stat_prefx = 'x'),
    /typed_config: unknown field "stat_prefx" in envoy\.extensions\.filters\.network\.http_connection_manager\.v3/,
  ],
  [
    'a @type that names no message',
    (d) => (manager(d)['@type'] = 'type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope'),
    /typed_config\.@type: no message envoy\.extensions\.filters\.network\.nope\.v3\.Nope/,
  ],
  ['a duration without its unit', (d) => (cluster(d).connect_timeout = '5'), /connect_timeout: "5" is not a duration/],
  [
    'two fields of one oneof',
    (d) => (cluster(d).load_assignment.endpoints[0].lb_endpoints[0].endpoint_name = 'x'),
    /both set, expected one of the oneof/,
  ],
  ['a list where a mapping belongs', (d) => (d.admin = []), /^admin: \[\] is not a mapping/],
]

for (const [what, breakIt, expected] of broken) {
  test(`refused: ${what}`, () => {
    const doc = load('envoy-dev-config.yaml')
    breakIt(doc)
    const problems = checkEnvoyBootstrap(doc).map((p) => `${p.path}: ${p.message}`)
    assert.ok(
      problems.some((p) => expected.test(p)),
      `expected a problem like ${expected}, got:\n${problems.join('\n')}`,
    )
  })
}
