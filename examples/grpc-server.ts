// Demo gRPC server: demo.Echo/Echo and demo.Echo/WhoAmI (see examples/echo.proto) answer with the
// server's name, instance and port; grpc.health.v1.Health/Check answers SERVING and logs each call.
// GRPC_HEALTH=off leaves the health service out, as many real servers do.
import * as grpc from '@grpc/grpc-js'
import {
  decodeHealthRequest,
  decodeMessage,
  encodeHealthResponse,
  encodeMessage,
  HEALTH_CHECK,
  text,
} from '../lib/probe/grpc.ts'

const port = Number(process.env.PORT)
const host = process.env.HOST ?? '127.0.0.1'
const name = process.env.SERVER_NAME ?? 'grpc-demo'
const instance = Number(process.env.INSTANCE ?? 0)
const withHealth = process.env.GRPC_HEALTH !== 'off'

if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`${name}: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`)
  process.exit(2)
}

const bytes = (b: Buffer) => b

function unary(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  }
}

// EchoReply { message = 1; server = 2; instance = 3; port = 4; pid = 5 }
const reply = (message: string) => encodeMessage({ 1: message, 2: name, 3: instance, 4: port, 5: process.pid })

const server = new grpc.Server()
server.addService(
  { Echo: unary('/demo.Echo/Echo'), WhoAmI: unary('/demo.Echo/WhoAmI') },
  {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) =>
      done(null, reply(text(decodeMessage(call.request), 1))),
    WhoAmI: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, reply('')),
  },
)

if (withHealth) {
  server.addService(
    { Check: unary(HEALTH_CHECK) },
    {
      Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        const service = decodeHealthRequest(call.request)
        // The standard: "" is the whole server; an unknown service name is NOT_FOUND.
        if (service !== '' && service !== 'demo.Echo') {
          console.log(`${HEALTH_CHECK} service=${JSON.stringify(service)}: NOT_FOUND`)
          return done({ code: grpc.status.NOT_FOUND, details: `unknown service ${service}` })
        }
        console.log(`${HEALTH_CHECK} service=${JSON.stringify(service)}: SERVING`)
        done(null, encodeHealthResponse('SERVING'))
      },
    },
  )
}

const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(`${name}-${instance}: cannot listen on ${address}: ${error.message}`)
    process.exit(1)
  }
  console.log(
    `${name}-${instance} gRPC listening on ${address}${withHealth ? ' with grpc.health.v1' : ' (no health service)'}`,
  )
})

// Exit promptly on stop: finish calls in flight for a moment, then drop the rest.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    console.log(`${name}-${instance} got ${signal}, shutting down`)
    const force = setTimeout(() => {
      server.forceShutdown()
      process.exit(0)
    }, 500)
    server.tryShutdown(() => {
      clearTimeout(force)
      process.exit(0)
    })
  })
}
