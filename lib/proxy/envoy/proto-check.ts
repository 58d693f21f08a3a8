// A generated Envoy config checked against Envoy's own v3 API (the .proto files the xDS package ships), for machines
// where no envoy binary can run `--mode validate`: every field known to its message, of the right type, each enum
// value one of its names, at most one field of a oneof, and each typed_config resolved by its @type and checked too.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import type protobufType from 'protobufjs'

type Protobuf = typeof protobufType
type Type = protobufType.Type
type Field = protobufType.Field

const require = createRequire(import.meta.url)
const PROTO_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
const TYPE_URL = /^type\.googleapis\.com\/([A-Za-z0-9_.]+)$/
const INTEGER = /^-?\d+$/
const DURATION = /^-?\d+(\.\d{1,9})?s$/
const INT_TYPES = new Set(['int32', 'sint32', 'sfixed32', 'int64', 'sint64', 'sfixed64'])
const UINT_TYPES = new Set(['uint32', 'fixed32', 'uint64', 'fixed64'])

export interface ProtoProblem {
  path: string
  message: string
}

// The protos, loaded once per process and only when a check runs (a few MB of definitions).
class EnvoyApi {
  readonly root: protobufType.Root
  private readonly dirs: string[]
  private readonly loadedDirs = new Set<string>()

  constructor(pb: Protobuf) {
    const base = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps')
    // google/protobuf/*.proto: those protobufjs does not build in (descriptor.proto) are in its own folder.
    this.dirs = [...PROTO_DIRS.map((d) => path.join(base, d)), path.dirname(require.resolve('protobufjs/package.json'))]
    this.root = new pb.Root()
    this.root.resolvePath = (_origin, target) => {
      for (const dir of this.dirs) if (fs.existsSync(path.join(dir, target))) return path.join(dir, target)
      // The rest of google/protobuf/*.proto: protobufjs has them built in.
      return target
    }
    this.loadPackage('envoy.config.bootstrap.v3')
  }

  // Every .proto of a package (its folder): a type's file cannot be told from its name, its package can.
  loadPackage(pkg: string): void {
    const rel = pkg.split('.').join('/')
    for (const dir of this.dirs) {
      const folder = path.join(dir, rel)
      if (this.loadedDirs.has(folder) || !fs.existsSync(folder)) continue
      this.loadedDirs.add(folder)
      const files = fs.readdirSync(folder).filter((f) => f.endsWith('.proto'))
      for (const f of files) this.root.loadSync(path.join(rel, f), { keepCase: true })
    }
    this.root.resolveAll()
  }

  type(name: string): Type | undefined {
    const find = () => {
      try {
        return this.root.lookupType(name)
      } catch {
        return undefined
      }
    }
    const found = find()
    if (found) return found
    this.loadPackage(name.split('.').slice(0, -1).join('.'))
    return find()
  }
}

let api: EnvoyApi | undefined

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const show = (v: unknown) => {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

// A rendered config (YAML) checked as a v3 Bootstrap: the problems, as lines.
export function checkEnvoyConfText(text: string): string[] {
  const { YAML } = require('zx') as typeof import('zx')
  return checkEnvoyBootstrap(YAML.parse(text)).map((p) => `${p.path}: ${p.message}`)
}

// Checks a parsed Envoy config as a v3 Bootstrap; the problems, each with the path of the value.
export function checkEnvoyBootstrap(doc: unknown): ProtoProblem[] {
  const pb = require('protobufjs') as Protobuf
  api ??= new EnvoyApi(pb)
  const out: ProtoProblem[] = []
  checkMessage(api, api.type('envoy.config.bootstrap.v3.Bootstrap')!, doc, '', out)
  return out
}

function checkMessage(envoy: EnvoyApi, type: Type, value: unknown, at: string, out: ProtoProblem[]): void {
  const name = type.fullName.slice(1)
  const bad = (message: string) => out.push({ path: at || '(top)', message })
  if (name in WELL_KNOWN) {
    const problem = WELL_KNOWN[name](value)
    if (problem) bad(`${show(value)} ${problem} (${name})`)
    return
  }
  if (!isObject(value)) return void bad(`${show(value)} is not a mapping, expected a ${name}`)
  if (name === 'google.protobuf.Any') return checkAny(envoy, value, at, out)
  const oneofs = new Map<string, string>()
  for (const [key, item] of Object.entries(value)) {
    const where = at ? `${at}.${key}` : key
    const field = type.fields[key] ?? type.fieldsArray.find((f) => f.options?.json_name === key)
    if (!field) {
      bad(`unknown field "${key}" in ${name}`)
      continue
    }
    const group = field.partOf?.name
    if (group && oneofs.has(group))
      bad(`"${key}" and "${oneofs.get(group)}" are both set, expected one of the oneof ${group}`)
    if (group) oneofs.set(group, key)
    checkField(envoy, field, item, where, out)
  }
}

function checkField(envoy: EnvoyApi, field: Field, value: unknown, at: string, out: ProtoProblem[]): void {
  if (field.map) {
    if (!isObject(value)) out.push({ path: at, message: `${show(value)} is not a mapping` })
    else for (const [k, v] of Object.entries(value)) checkValue(envoy, field, v, `${at}.${k}`, out)
    return
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return void out.push({ path: at, message: `${show(value)} is not a list` })
    value.forEach((v, i) => checkValue(envoy, field, v, `${at}[${i}]`, out))
    return
  }
  checkValue(envoy, field, value, at, out)
}

function checkValue(envoy: EnvoyApi, field: Field, value: unknown, at: string, out: ProtoProblem[]): void {
  const resolved = field.resolvedType
  if (resolved && 'fieldsArray' in resolved) return checkMessage(envoy, resolved as Type, value, at, out)
  if (resolved && 'values' in resolved) {
    const names = Object.keys(resolved.values)
    if (typeof value === 'string' ? names.includes(value) : Number.isInteger(value)) return
    return void out.push({ path: at, message: `${show(value)} is not one of ${names.join(', ')}` })
  }
  const problem = scalarProblem(field.type, value)
  if (problem) out.push({ path: at, message: `${show(value)} ${problem}` })
}

function scalarProblem(type: string, value: unknown): string | undefined {
  const integer = typeof value === 'number' ? Number.isInteger(value) : typeof value === 'string' && INTEGER.test(value)
  if (INT_TYPES.has(type)) return integer ? undefined : `is not an integer, expected a ${type}`
  if (UINT_TYPES.has(type))
    return integer && Number(value) >= 0 ? undefined : `is not a non-negative integer, expected a ${type}`
  if (type === 'double' || type === 'float') return typeof value === 'number' ? undefined : 'is not a number'
  if (type === 'bool') return typeof value === 'boolean' ? undefined : 'is not true or false'
  if (type === 'string' || type === 'bytes') return typeof value === 'string' ? undefined : 'is not a string'
  return undefined
}

// A typed_config: the message its @type names, with the rest of the mapping as its fields.
function checkAny(envoy: EnvoyApi, value: Record<string, unknown>, at: string, out: ProtoProblem[]): void {
  const { '@type': url, ...rest } = value
  const name = typeof url === 'string' ? TYPE_URL.exec(url)?.[1] : undefined
  const where = at ? `${at}.@type` : '@type'
  if (!name)
    return void out.push({ path: where, message: `${show(url)} is not a type URL like type.googleapis.com/NAME` })
  const type = envoy.type(name)
  if (!type) return void out.push({ path: where, message: `no message ${name} in Envoy's v3 API` })
  checkMessage(envoy, type, rest, at, out)
}

// The well-known types, in their JSON form (a Duration is "5s", a wrapper is its bare value).
const WELL_KNOWN: Record<string, (v: unknown) => string | undefined> = {
  'google.protobuf.Duration': (v) =>
    typeof v === 'string' && DURATION.test(v) ? undefined : 'is not a duration like "5s"',
  'google.protobuf.Timestamp': (v) => (typeof v === 'string' ? undefined : 'is not a timestamp'),
  'google.protobuf.Struct': (v) => (isObject(v) ? undefined : 'is not a mapping'),
  'google.protobuf.Value': () => undefined,
  'google.protobuf.ListValue': (v) => (Array.isArray(v) ? undefined : 'is not a list'),
  'google.protobuf.Empty': (v) => (isObject(v) && Object.keys(v).length === 0 ? undefined : 'is not empty'),
  'google.protobuf.BoolValue': (v) => scalarProblem('bool', v),
  'google.protobuf.StringValue': (v) => scalarProblem('string', v),
  'google.protobuf.BytesValue': (v) => scalarProblem('bytes', v),
  'google.protobuf.DoubleValue': (v) => scalarProblem('double', v),
  'google.protobuf.FloatValue': (v) => scalarProblem('float', v),
  'google.protobuf.Int32Value': (v) => scalarProblem('int32', v),
  'google.protobuf.Int64Value': (v) => scalarProblem('int64', v),
  'google.protobuf.UInt32Value': (v) => scalarProblem('uint32', v),
  'google.protobuf.UInt64Value': (v) => scalarProblem('uint64', v),
}
