// The JSON Schema is generated from the shape check's rule tables: every key is in it with a description, the
// shipped file is current, every example config passes a real JSON Schema validator and known-bad ones fail both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { Ajv } from 'ajv'
import { configJsonSchema, configJsonSchemaText, type JsonSchema } from '../../lib/config/json-schema.ts'
import { checkShape } from '../../lib/config/schema.ts'
import { serverSchema, topSchema, type Schema } from '../../lib/config/rules.ts'
import { repoRoot, runCli, useHome } from '../helpers.ts'

const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
const SHIPPED = path.join(repoRoot, 'schema', 'backend-manager.schema.json')
const REGENERATE = 'node bin/backend-manager.js schema -o schema/backend-manager.schema.json'

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
const validate = ajv.compile(configJsonSchema())

// The object schema a property holds, wherever a nullable anyOf or a list's items put it.
function objectIn(schema: JsonSchema): JsonSchema | undefined {
  if (schema.type === 'object' && schema.properties) return schema
  if (schema.items) return objectIn(schema.items as JsonSchema)
  for (const branch of (schema.anyOf as JsonSchema[] | undefined) ?? []) {
    const found = objectIn(branch)
    if (found) return found
  }
  return undefined
}

// Every key of a rule table and the tables nested in it, as paths, checked against the generated schema.
function missingKeys(table: Schema, generated: JsonSchema | undefined, at: string): string[] {
  const properties = (generated?.properties ?? {}) as Record<string, JsonSchema>
  return Object.entries(table).flatMap(([key, rule]) => {
    const where = at ? `${at}.${key}` : key
    const property = properties[key]
    if (!property) return [`${where}: not in the schema`]
    if (typeof property.description !== 'string' || property.description.length < 10)
      return [`${where}: no description`]
    const nested = rule.kind === 'servers' ? serverSchema : 'schema' in rule ? (rule.schema as Schema) : undefined
    return nested ? missingKeys(nested, objectIn(property), `${where}[]`) : []
  })
}

test('every key of every rule table is in the JSON Schema, with a description', () => {
  assert.ok(Object.keys(serverSchema).length > 10)
  assert.deepEqual(missingKeys(topSchema, configJsonSchema(), ''), [])
  const server = objectIn((configJsonSchema().properties as Record<string, JsonSchema>).servers)!
  assert.deepEqual(Object.keys(server.properties as object), Object.keys(serverSchema))
  assert.deepEqual(server.required, ['name', 'command'])
})

test('the shipped schema file is the generated one', () => {
  const shipped = fs.existsSync(SHIPPED) ? fs.readFileSync(SHIPPED, 'utf8') : ''
  assert.ok(shipped === configJsonSchemaText(), `${SHIPPED} is stale; regenerate it with: ${REGENERATE}`)
})

test('"schema" prints the generated schema, and -o writes it', async (t) => {
  const home = useHome(t, 'bm-schema-')
  const printed = await runCli(home.root, ['schema'])
  assert.equal(printed.code, 0, printed.stderr)
  assert.equal(printed.stdout, configJsonSchemaText())
  const file = path.join(home.root, 'out', 'config.schema.json')
  const written = await runCli(home.root, ['schema', '-o', file])
  assert.equal(written.code, 0, written.stderr)
  assert.equal(fs.readFileSync(file, 'utf8'), configJsonSchemaText())
})

// The README's yaml blocks that are whole configs (the rest are fragments of one).
function readmeConfigs(): [string, unknown][] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  return [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m, i): [string, unknown] => [`README.md yaml block ${i + 1}`, YAML.parse(m[1])])
    .filter(([, raw]) => raw !== null && typeof raw === 'object' && 'servers' in raw)
}

function exampleConfigs(): [string, unknown][] {
  const files = [
    'dev-config.yaml',
    'test/fixtures/configs/dev-config.yaml',
    ...fs
      .readdirSync(path.join(repoRoot, 'examples'))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => `examples/${f}`),
  ]
  return files.map((f) => [f, YAML.parse(fs.readFileSync(path.join(repoRoot, f), 'utf8'))])
}

test('every example config in the repository is valid against the schema', () => {
  const examples = [...exampleConfigs(), ...readmeConfigs()]
  assert.ok(examples.length >= 3, examples.map(([name]) => name).join(', '))
  for (const [name, raw] of examples) {
    assert.ok(validate(raw), `${name}: ${ajv.errorsText(validate.errors)}`)
  }
})

const server = { name: 'api', command: 'node api.js', port: 8001 }

// Each is wrong at the level of shape: the schema and the shape check must both refuse it.
const BAD: [string, Record<string, unknown>][] = [
  ['a port that is a word', { servers: [{ ...server, port: 'eighty' }] }],
  ['a port out of range', { servers: [{ ...server, port: 70000 }] }],
  ['instances not whole', { servers: [{ ...server, instances: 1.5 }] }],
  ['an unknown server key', { servers: [{ ...server, helth: '/health' }] }],
  ['an unknown top key', { servers: [server], proxi: { port: 8000 } }],
  ['an unknown proxy key', { servers: [server], proxy: { prot: 8000 } }],
  ['a bad restart choice', { servers: [{ ...server, restart: 'sometimes' }] }],
  ['a bad proxy type', { servers: [server], proxy: { type: 'apache' } }],
  ['no command', { servers: [{ name: 'api' }] }],
  ['no name', { servers: [{ command: 'x' }] }],
  ['no servers', { proxy: { port: 8000 } }],
  ['an empty server list', { servers: [] }],
  ['an empty command list', { servers: [{ ...server, command: [] }] }],
  ['a blank command', { servers: [{ ...server, command: '  ' }] }],
  ['env with a nested value', { servers: [{ ...server, env: { A: { b: 1 } } }] }],
  ['modules not a list', { servers: [{ ...server, modules: 'api' }] }],
  ['behind_proxy as a word', { servers: [{ ...server, behind_proxy: 'no' }] }],
  ['logs.keep zero', { servers: [server], logs: { keep: 0 } }],
  ['a server that is a string', { servers: ['api'] }],
]

test('known-bad configs are refused by the schema and by the shape check', () => {
  for (const [name, raw] of BAD) {
    assert.equal(validate(raw), false, `the schema accepted ${name}`)
    assert.ok(checkShape(raw).length > 0, `the shape check accepted ${name}`)
  }
})

// Values the shape check accepts that a careless schema would refuse.
const GOOD: [string, Record<string, unknown>][] = [
  ['a command list with a number', { servers: [{ ...server, command: ['node', 'api.js', 3] }] }],
  ['a key with no value (the default)', { servers: [{ ...server, port: null, health: null }], proxy: null }],
  ['env values of every plain kind', { servers: [{ ...server, env: { A: 'x', B: 2, C: true, D: null } }] }],
  ['env_file as one path', { servers: [{ ...server, env_file: '.env' }] }],
  ['every proxy key', { servers: [server], proxy: { type: 'envoy', port: 8000, admin_port: 9901, grpc_port: 50051 } }],
]

test('configs the shape check accepts are valid against the schema', () => {
  for (const [name, raw] of GOOD) {
    assert.deepEqual(checkShape(raw), [], name)
    assert.ok(validate(raw), `${name}: ${ajv.errorsText(validate.errors)}`)
  }
})

test('a value that is one ${VAR} may stand for a number, as the loader reads it', () => {
  assert.ok(validate({ servers: [{ ...server, port: '${API_PORT}', instances: '${N:-2}' }] }))
  assert.equal(validate({ servers: [{ ...server, port: '${API_PORT}1' }] }), false)
})
