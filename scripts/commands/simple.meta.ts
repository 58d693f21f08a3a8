// What simple and its subcommands take and say about themselves; the run is in simple.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { proxyDefaults } from '../../lib/config/types.ts'
import health from './health.meta.ts'
import logs from './logs.meta.ts'
import status from './status.meta.ts'

const workers = { type: 'string', value: 'N', description: 'how many workers, 1 to 256' } as const

export default defineCommand({
  name: 'simple',
  summary: 'N identical workers on consecutive ports, no config file',
  description: 'N identical workers named worker-0..N-1 on consecutive ports, no config file (quantra-simple).',
  subcommands: {
    start: {
      summary: 'start the pool (refused while one runs: use restart or stop)',
      description: `gRPC workers are ready once the gRPC health service says SERVING (or, when they have none,
once they accept connections).`,
      flags: {
        workers: { ...workers, required: true },
        'base-port': { type: 'string', value: 'P', required: true, description: 'the first port; worker i gets P + i' },
        host: { type: 'string', value: 'H', default: '127.0.0.1', description: 'the address the workers bind' },
        proxy: {
          type: 'string',
          choices: ['none', 'nginx', 'envoy'],
          default: 'none',
          description: 'nginx or envoy balances round-robin across the workers on front port F',
        },
        port: {
          type: 'string',
          value: 'F',
          description: `the proxy's front port (default: ${proxyDefaults.port};
            ${proxyDefaults.grpc_port} for gRPC, served as HTTP/2)`,
        },
        protocol: { type: 'string', choices: ['http', 'grpc'], default: 'http', description: 'what the workers speak' },
      },
      rest: {
        name: 'COMMAND ...',
        description: `the worker command; it gets {port} substituted (also as a word of its own) and PORT in
          its environment (default: the bundled demo server, examples/server.ts, or examples/grpc-server.ts
          with --protocol grpc)`,
      },
    },
    status: { summary: "the pool's processes", flags: status.flags },
    stop: { summary: 'stop every worker, wait until every port is free' },
    restart: { summary: 'same command, base port and proxy, N workers', flags: { workers } },
    logs: {
      summary: 'the pool\'s unified log, as "logs" shows it ("simple logs clean" truncates)',
      args: logs.args,
      flags: logs.flags,
    },
    health: {
      summary:
        "probe every worker directly and through the proxy (under Envoy, also each worker's health as Envoy sees it)",
      flags: health.flags,
    },
  },
  notes: 'The pool keeps its own state (in <home>/simple), so it can run beside a config-file stack.',
})
