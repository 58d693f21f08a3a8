// The little gRPC the manager speaks itself: the standard health check (grpc.health.v1.Health/Check)
// and plain unary calls. Messages are encoded by hand (strings and unsigned varints are all they
// need), and @grpc/grpc-js is imported only on the first call, so stacks without gRPC never load it.
import type * as GrpcJs from '@grpc/grpc-js'
import { bareHost } from '../os/hosts.ts'

export type FieldValue = string | number
export type Decoded = Map<number, Buffer | number>

function varint(n: number): number[] {
  const bytes: number[] = []
  let rest = n
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return bytes
}

// Protobuf wire format: field numbers with strings (wire type 2) or non-negative integers (wire type 0).
export function encodeMessage(fields: Record<number, FieldValue | undefined>): Buffer {
  const parts: Buffer[] = []
  for (const [key, value] of Object.entries(fields)) {
    const field = Number(key)
    if (value === undefined || value === '' || value === 0) continue
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0)
        throw new Error(`field ${field}: only non-negative integers are encoded, got ${value}`)
      parts.push(Buffer.from([...varint(field * 8), ...varint(value)]))
    } else {
      const bytes = Buffer.from(value, 'utf8')
      parts.push(Buffer.from([...varint(field * 8 + 2), ...varint(bytes.length)]), bytes)
    }
  }
  return Buffer.concat(parts)
}

// The last value of each field wins, as protobuf parsers do; unknown wire types end the message as malformed.
export function decodeMessage(buf: Buffer): Decoded {
  const out: Decoded = new Map()
  let at = 0
  const readVarint = () => {
    let value = 0
    for (let shift = 1; ; shift *= 0x80) {
      if (at >= buf.length) throw new Error('truncated protobuf varint')
      const byte = buf[at++]
      value += (byte & 0x7f) * shift
      if (byte < 0x80) return value
    }
  }
  while (at < buf.length) {
    const key = readVarint()
    const field = Math.floor(key / 8)
    const wire = key % 8
    if (wire === 0) out.set(field, readVarint())
    else if (wire === 2) {
      const length = readVarint()
      if (at + length > buf.length) throw new Error('truncated protobuf field')
      out.set(field, buf.subarray(at, at + length))
      at += length
    } else throw new Error(`unsupported protobuf wire type ${wire}`)
  }
  return out
}

export const text = (decoded: Decoded, field: number): string => {
  const value = decoded.get(field)
  return Buffer.isBuffer(value) ? value.toString('utf8') : ''
}

export const int = (decoded: Decoded, field: number): number => {
  const value = decoded.get(field)
  return typeof value === 'number' ? value : 0
}

export const HEALTH_CHECK = '/grpc.health.v1.Health/Check'
// grpc.health.v1.HealthCheckResponse.ServingStatus, by number.
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const
export type ServingStatus = (typeof SERVING_STATUS)[number]

// HealthCheckRequest { string service = 1; }: "" asks about the server as a whole.
export const encodeHealthRequest = (service = '') => encodeMessage({ 1: service })
export const decodeHealthRequest = (buf: Buffer) => text(decodeMessage(buf), 1)
// HealthCheckResponse { ServingStatus status = 1; }
export const encodeHealthResponse = (status: ServingStatus) => encodeMessage({ 1: SERVING_STATUS.indexOf(status) })
export const decodeHealthResponse = (buf: Buffer): ServingStatus =>
  SERVING_STATUS[int(decodeMessage(buf), 1)] ?? 'UNKNOWN'

let grpcJs: Promise<typeof GrpcJs> | undefined
export const loadGrpc = (): Promise<typeof GrpcJs> => (grpcJs ??= import('@grpc/grpc-js'))

export type CallResult = { ok: true; value: Buffer } | { ok: false; code: number; status: string; details: string }

// "host:port" as grpc-js expects it, with IPv6 literals in brackets.
export function grpcTarget(host: string, port: number): string {
  const bare = bareHost(host)
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`
}

// One unary call on a fresh channel, closed afterwards: probes must not keep connections (or the process) alive.
export async function unaryCall(
  target: string,
  method: string,
  request: Buffer,
  timeoutMs: number,
): Promise<CallResult> {
  const grpc = await loadGrpc()
  const client = new grpc.Client(target, grpc.credentials.createInsecure())
  const bytes = (b: Buffer) => b
  try {
    return await new Promise<CallResult>((resolve) => {
      client.makeUnaryRequest(
        method,
        bytes,
        bytes,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, value) => {
          if (error)
            resolve({
              ok: false,
              code: error.code,
              status: grpc.status[error.code] ?? String(error.code),
              details: error.details,
            })
          else resolve({ ok: true, value: value ?? Buffer.alloc(0) })
        },
      )
    })
  } finally {
    client.close()
  }
}

export const UNIMPLEMENTED = 12

export type HealthAnswer = { status: ServingStatus } | { code: number; error: string }

export async function grpcHealthCheck(
  host: string,
  port: number,
  timeoutMs: number,
  service = '',
): Promise<HealthAnswer> {
  const result = await unaryCall(grpcTarget(host, port), HEALTH_CHECK, encodeHealthRequest(service), timeoutMs)
  if (!result.ok) return { code: result.code, error: `${result.status}${result.details ? `: ${result.details}` : ''}` }
  try {
    return { status: decodeHealthResponse(result.value) }
  } catch (error) {
    return { code: -1, error: `malformed health response (${(error as Error).message})` }
  }
}
