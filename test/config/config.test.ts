import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { type Config } from '../../lib/config/types.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

// Messages name the file as it was given, so the tests load `dev-config.yaml` from inside a temp folder.
const originalCwd = process.cwd()
const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-config-')))
process.chdir(dir)
after(() => {
  process.chdir(originalCwd)
  fs.rmSync(dir, { recursive: true, force: true })
})
fs.mkdirSync(path.join(dir, 'app'))
fs.mkdirSync(path.join(dir, 'sub', 'app'), { recursive: true })
fs.writeFileSync(path.join(dir, 'a-file'), '')

function load(text: string, file = 'dev-config.yaml'): Config {
  fs.writeFileSync(file, text)
  return loadConfig(file)
}

function loadError(text: string): BackendManagerError {
  try {
    load(text)
  } catch (error) {
    assert.ok(error instanceof BackendManagerError, `expected a BackendManagerError, got ${String(error)}`)
    return error
  }
  assert.fail('expected the config to be rejected')
}

const F = 'dev-config.yaml'
const SERVER_KEYS =
  'name, command, port, host, instances, modules, health, env, env_file, cwd, ready_timeout, stop_timeout' +
  ', restart, max_restarts, depends_on, protocol, behind_proxy, kind, max_memory, watch, then_restart, image'
const NAME_RULE = 'lowercase letters, digits, "-" and "_", starting with a letter or digit'
const TOP = 'expected a mapping with "servers" (and optionally "proxy", "logs")'
const HEALTH_RULE = 'expected an HTTP path like "/health" (no spaces, quotes, ";", "{" or "}"), "tcp" or "none"'
const PREFIX_RULE = 'expected "/" then letters, digits and "-._~/" (like "/api/v1"), with no trailing "/"'
const HOST_RULE = 'is not a host name or IP address, expected e.g. 127.0.0.1 or localhost'
// One valid server, so a case can add a second without repeating it.
const core = '  - { name: core, command: run, port: 9000 }\n'

const bad: { name: string; yaml: string; error: string }[] = [
  // The file as a whole.
  {
    name: 'YAML syntax error',
    yaml: 'servers:\n  - name: a\n    command: x\n   port: 1\n',
    error: `${F}: line 4, column 1: invalid YAML: sequence item without - indicator`,
  },
  {
    name: 'unclosed flow list',
    yaml: 'servers: [a\n',
    error: `${F}: line 2, column 1: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]`,
  },
  {
    name: 'duplicate key',
    yaml: 'servers:\n  - name: a\n    name: b\n    command: x\n',
    error: `${F}: line 3, column 5: invalid YAML: a key appears twice in one mapping, expected each key once`,
  },
  {
    name: 'several documents',
    yaml: 'servers: []\n---\nservers: []\n',
    error: `${F}: line 2, column 1: invalid YAML: the file holds several documents, expected one`,
  },
  { name: 'empty file', yaml: '', error: `${F}: the file is empty, ${TOP}` },
  { name: 'only comments', yaml: '# nothing here\n', error: `${F}: the file is empty, ${TOP}` },
  { name: 'a list at the top', yaml: '- core\n- broker\n', error: `${F}: the file holds a list, ${TOP}` },
  { name: 'a string at the top', yaml: 'hello\n', error: `${F}: the file holds a single value "hello", ${TOP}` },
  { name: 'a number at the top', yaml: '42\n', error: `${F}: the file holds a single value 42, ${TOP}` },

  // Unknown keys, with a suggestion when one is close.
  {
    name: 'unknown top-level key',
    yaml: `proxi: {}\nservers:\n${core}`,
    error: `${F}: proxi: unknown key (did you mean "proxy"?), expected one of proxy, servers, logs, on_failure, layout, after_stop`,
  },
  {
    name: 'unknown proxy key',
    yaml: `proxy: { prot: 8000 }\nservers:\n${core}`,
    error:
      `${F}: proxy.prot: unknown key (did you mean "port"?)` +
      `, expected one of type, host, port, routing_strategy, api_prefix, admin_port, grpc_port`,
  },
  {
    name: 'unknown server key',
    yaml: 'servers:\n  - { name: a, command: x, instanes: 2 }\n',
    error: `${F}: servers[0].instanes: unknown key (did you mean "instances"?), expected one of ${SERVER_KEYS}`,
  },
  {
    name: 'unknown server key, nothing close',
    yaml: 'servers:\n  - { name: a, command: x, healthcheck: /h }\n',
    error: `${F}: servers[0].healthcheck: unknown key, expected one of ${SERVER_KEYS}`,
  },
  {
    name: 'unknown server key in another case',
    yaml: 'servers:\n  - { name: a, command: x, Port: 9000 }\n',
    error: `${F}: servers[0].Port: unknown key (did you mean "port"?), expected one of ${SERVER_KEYS}`,
  },
  {
    name: 'unknown logs key',
    yaml: `logs: { max_sise: 1 }\nservers:\n${core}`,
    error: `${F}: logs.max_sise: unknown key (did you mean "max_size"?), expected one of max_size, keep`,
  },

  // Types.
  {
    name: 'string: a number',
    yaml: `proxy: { host: 42 }\nservers:\n${core}`,
    error: `${F}: proxy.host: 42 is not a string, expected a host name or IP address`,
  },
  {
    name: 'string: empty',
    yaml: 'servers:\n  - { name: "", command: x }\n',
    error: `${F}: servers[0].name: "" is empty, expected a server name (lowercase letters, digits, "-" and "_")`,
  },
  {
    name: 'string: a list',
    yaml: 'servers:\n  - { name: a, command: x, cwd: [a, b] }\n',
    error: `${F}: servers[0].cwd: ["a","b"] is not a string, expected a folder path`,
  },
  {
    name: 'int: a quoted number',
    yaml: 'servers:\n  - { name: a, command: x, port: "8001" }\n',
    error: `${F}: servers[0].port: "8001" is not a number, expected a port number from 1 to 65535`,
  },
  {
    name: 'int: a fraction',
    yaml: 'servers:\n  - { name: a, command: x, instances: 1.5 }\n',
    error: `${F}: servers[0].instances: 1.5 is not a whole number, expected a whole number from 1 to 256`,
  },
  {
    name: 'int: a boolean',
    yaml: 'servers:\n  - { name: a, command: x, max_restarts: true }\n',
    error: `${F}: servers[0].max_restarts: true is not a number, expected a whole number from 0 to 1000`,
  },
  {
    name: 'port 0',
    yaml: 'servers:\n  - { name: a, command: x, port: 0 }\n',
    error: `${F}: servers[0].port: 0 is out of range, expected a port number from 1 to 65535`,
  },
  {
    name: 'port 65536',
    yaml: 'servers:\n  - { name: a, command: x, port: 65536 }\n',
    error: `${F}: servers[0].port: 65536 is out of range, expected a port number from 1 to 65535`,
  },
  {
    name: 'proxy port out of range',
    yaml: `proxy: { port: 70000 }\nservers:\n${core}`,
    error: `${F}: proxy.port: 70000 is out of range, expected a port number from 1 to 65535`,
  },
  {
    name: 'instances 0',
    yaml: 'servers:\n  - { name: a, command: x, instances: 0 }\n',
    error: `${F}: servers[0].instances: 0 is out of range, expected a whole number from 1 to 256`,
  },
  {
    name: 'seconds with a unit',
    yaml: 'servers:\n  - { name: a, command: x, ready_timeout: 30s }\n',
    error: `${F}: servers[0].ready_timeout: "30s" is not a number, expected a number of seconds from 0.1 to 3600`,
  },
  {
    name: 'negative seconds',
    yaml: 'servers:\n  - { name: a, command: x, stop_timeout: -1 }\n',
    error: `${F}: servers[0].stop_timeout: -1 is out of range, expected a number of seconds from 0 to 3600`,
  },
  {
    name: 'enum: a typo',
    yaml: `proxy: { type: ngnix }\nservers:\n${core}`,
    error: `${F}: proxy.type: "ngnix" is not a valid choice (did you mean "nginx"?), expected one of nginx, envoy, none`,
  },
  {
    name: 'enum: a boolean',
    yaml: 'servers:\n  - { name: a, command: x, restart: false }\n',
    error: `${F}: servers[0].restart: false is not a valid choice, expected one of no, on-failure, always`,
  },
  {
    name: 'enum: protocol',
    yaml: 'servers:\n  - { name: a, command: x, protocol: websocket }\n',
    error: `${F}: servers[0].protocol: "websocket" is not a valid choice, expected one of http, grpc`,
  },
  {
    name: 'enum: routing strategy',
    yaml: `proxy: { routing_strategy: host }\nservers:\n${core}`,
    error: `${F}: proxy.routing_strategy: "host" is not a valid choice, expected one of path`,
  },
  {
    name: 'list: a string',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, modules: broker }\n',
    error: `${F}: servers[0].modules: "broker" is not a list, expected a list of module names`,
  },
  {
    name: 'list: a number inside',
    yaml: 'servers:\n  - { name: a, command: x, depends_on: [1] }\n',
    error: `${F}: servers[0].depends_on[0]: 1 is not a name, expected a non-empty string`,
  },
  {
    name: 'map: a list',
    yaml: 'servers:\n  - { name: a, command: x, env: [A] }\n',
    error: `${F}: servers[0].env: ["A"] is not a mapping, expected a mapping of NAME: value`,
  },
  {
    name: 'map: a nested value',
    yaml: 'servers:\n  - { name: a, command: x, env: { A: [1] } }\n',
    error: `${F}: servers[0].env.A: [1] is not a plain value, expected a string or a number`,
  },
  {
    name: 'command: a number',
    yaml: 'servers:\n  - { name: a, command: 5 }\n',
    error: `${F}: servers[0].command: 5 is not a command, expected a command string or a non-empty list of arguments`,
  },
  {
    name: 'command: blank',
    yaml: 'servers:\n  - { name: a, command: "  " }\n',
    error: `${F}: servers[0].command: "  " is empty, expected a command string or a non-empty list of arguments`,
  },
  {
    name: 'command: empty list',
    yaml: 'servers:\n  - { name: a, command: [] }\n',
    error: `${F}: servers[0].command: [] is empty, expected a command string or a non-empty list of arguments`,
  },
  {
    name: 'command: a mapping argument',
    yaml: 'servers:\n  - { name: a, command: [node, { a: 1 }] }\n',
    error: `${F}: servers[0].command[1]: {"a":1} is not an argument, expected a non-empty string or a number`,
  },
  {
    name: 'proxy: not a mapping',
    yaml: `proxy: nginx\nservers:\n${core}`,
    error: `${F}: proxy: "nginx" is not a mapping, expected a mapping of proxy settings`,
  },
  {
    name: 'servers: a mapping',
    yaml: 'servers: { name: a }\n',
    error: `${F}: servers: {"name":"a"} is not a list, expected a non-empty list of servers`,
  },
  {
    name: 'servers: empty',
    yaml: 'servers: []\n',
    error: `${F}: servers: [] is empty, expected a non-empty list of servers`,
  },
  {
    name: 'servers: a bare name',
    yaml: 'servers:\n  - core\n',
    error: `${F}: servers[0]: "core" is not a mapping, expected a mapping with name and command`,
  },

  // Required keys.
  {
    name: 'servers missing',
    yaml: 'proxy: { port: 8000 }\n',
    error: `${F}: servers: missing, expected a non-empty list of servers`,
  },
  {
    name: 'servers left empty',
    yaml: 'servers:\n',
    error: `${F}: servers: missing, expected a non-empty list of servers`,
  },
  {
    name: 'name missing',
    yaml: 'servers:\n  - { command: x }\n',
    error: `${F}: servers[0].name: missing, expected a server name (lowercase letters, digits, "-" and "_")`,
  },
  {
    name: 'command missing',
    yaml: 'servers:\n  - { name: a }\n',
    error: `${F}: servers[0].command: missing, expected a command string or a non-empty list of arguments`,
  },

  // Names.
  {
    name: 'name: upper case',
    yaml: 'servers:\n  - { name: Core, command: x }\n',
    error: `${F}: servers[0].name: "Core" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: leading dash',
    yaml: 'servers:\n  - { name: -core, command: x }\n',
    error: `${F}: servers[0].name: "-core" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: semicolon',
    yaml: 'servers:\n  - { name: "a;b", command: x }\n',
    error: `${F}: servers[0].name: "a;b" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: braces',
    yaml: 'servers:\n  - { name: "a{b}", command: x }\n',
    error: `${F}: servers[0].name: "a{b}" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: quote',
    yaml: 'servers:\n  - { name: "a\\"b", command: x }\n',
    error: `${F}: servers[0].name: "a\\"b" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: newline',
    yaml: 'servers:\n  - { name: "a\\nb", command: x }\n',
    error: `${F}: servers[0].name: "a\\nb" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: space',
    yaml: 'servers:\n  - { name: "a b", command: x }\n',
    error: `${F}: servers[0].name: "a b" is not a valid name, expected ${NAME_RULE}`,
  },
  {
    name: 'name: reserved nginx',
    yaml: 'servers:\n  - { name: nginx, command: x }\n',
    error:
      `${F}: servers[0].name: "nginx" is reserved for the manager's own processes` +
      `, expected a name other than nginx, envoy, supervisor`,
  },
  {
    name: 'name: reserved supervisor',
    yaml: 'servers:\n  - { name: supervisor, command: x }\n',
    error:
      `${F}: servers[0].name: "supervisor" is reserved for the manager's own processes` +
      `, expected a name other than nginx, envoy, supervisor`,
  },
  {
    name: 'name: duplicate',
    yaml: `servers:\n${core}  - { name: core, command: y }\n`,
    error: `${F}: servers[1].name: "core" is already the name of servers[0], expected a unique name`,
  },

  // Ports.
  {
    name: 'instances run past 65535',
    yaml: 'servers:\n  - { name: a, command: x, port: 65534, instances: 3 }\n',
    error: `${F}: servers[0].instances: 3 instances from port 65534 run past 65535, expected at most 2`,
  },
  {
    name: 'instances of two servers overlap',
    yaml:
      'servers:\n  - { name: datafeed, command: x, port: 8002, modules: [datafeed] }\n' +
      '  - { name: broker, command: x, port: 8001, instances: 2, modules: [broker] }\n',
    error: `${F}: servers[1].port: ports 8001-8002 of "broker" overlap 8002 of "datafeed"`,
  },
  {
    name: 'same single port twice',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, instances: 3 }\n  - { name: b, command: x, port: 9002, modules: [b] }\n',
    error: `${F}: servers[1].port: port 9002 of "b" overlaps 9002 of "a"`,
  },
  {
    name: 'overlap with the proxy port',
    yaml: 'servers:\n  - { name: core, command: x, port: 7999, instances: 2 }\n',
    error: `${F}: servers[0].port: ports 7999-8000 of "core" overlap 8000 of the proxy (proxy.port)`,
  },
  {
    name: 'overlap with the envoy admin port',
    yaml: 'proxy: { type: envoy }\nservers:\n  - { name: core, command: x, port: 9901 }\n',
    error: `${F}: servers[0].port: port 9901 of "core" overlaps 9901 of the envoy admin (proxy.admin_port)`,
  },
  {
    name: 'envoy admin port on the proxy port',
    yaml: `proxy: { type: envoy, port: 9000, admin_port: 9000 }\nservers:\n  - { name: core, command: x, port: 9100 }\n`,
    error: `${F}: proxy.admin_port: port 9000 of the envoy admin overlaps 9000 of the proxy (proxy.port)`,
  },
  {
    name: 'overlap with the gRPC port when a server speaks gRPC',
    yaml: 'servers:\n  - { name: core, command: x, port: 50051 }\n  - { name: rpc, command: x, port: 50100, protocol: grpc }\n',
    error: `${F}: servers[0].port: port 50051 of "core" overlaps 50051 of the gRPC proxy (proxy.grpc_port)`,
  },
  {
    name: 'two gRPC servers behind the proxy',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, protocol: grpc }\n  - { name: b, command: x, port: 9100, protocol: grpc }\n',
    error:
      `${F}: servers[1].protocol: "a" and "b" are both gRPC servers behind the proxy` +
      `, expected at most one (set behind_proxy: false on the others)`,
  },

  // Modules.
  {
    name: 'a module owned by two servers',
    yaml:
      `servers:\n${core}  - { name: broker, command: x, port: 9001, modules: [orders] }\n` +
      `  - { name: shop, command: x, port: 9002, modules: [cart, orders] }\n`,
    error: `${F}: servers[2].modules[1]: module "orders" is already owned by "broker", expected each module in one server only`,
  },
  {
    name: 'modules on a portless server',
    yaml: 'servers:\n  - { name: worker, command: x, modules: [jobs] }\n',
    error: `${F}: servers[0].modules: "worker" has modules but no port, expected a port (the proxy routes modules to it) or no modules`,
  },
  {
    name: 'two servers with no modules behind a proxy',
    yaml: `servers:\n${core}  - { name: web, command: x, port: 9001, modules: [] }\n`,
    error:
      `${F}: servers[1].modules: "core" and "web" both have no modules` +
      `, expected only one server without modules (it owns "/" behind the proxy)` +
      `; set behind_proxy: false on the one that is not an HTTP server`,
  },
  {
    name: 'a Redis with a port beside the HTTP server without modules',
    yaml: `servers:\n${core}  - { name: redis, command: redis-server, port: 6379 }\n`,
    error:
      `${F}: servers[1].modules: "core" and "redis" both have no modules` +
      `, expected only one server without modules (it owns "/" behind the proxy)` +
      `; set behind_proxy: false on the one that is not an HTTP server`,
  },

  // Values that would inject into the generated proxy config.
  {
    name: 'api_prefix with ;',
    yaml: `proxy: { api_prefix: "/api;v1" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api;v1" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with {',
    yaml: `proxy: { api_prefix: "/api{" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api{" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with }',
    yaml: `proxy: { api_prefix: "/api}" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api}" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with a quote',
    yaml: `proxy: { api_prefix: "/api'" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api'" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with a newline',
    yaml: `proxy: { api_prefix: "/api\\nx" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api\\nx" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with a space',
    yaml: `proxy: { api_prefix: "/api v1" }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api v1" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix with a trailing slash',
    yaml: `proxy: { api_prefix: /api/ }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "/api/" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'api_prefix not starting with /',
    yaml: `proxy: { api_prefix: api }\nservers:\n${core}`,
    error: `${F}: proxy.api_prefix: "api" is not a safe URL path, ${PREFIX_RULE}`,
  },
  {
    name: 'health path with ;',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, health: "/h;return 200" }\n',
    error: `${F}: servers[0].health: "/h;return 200" is not a safe health check, ${HEALTH_RULE}`,
  },
  {
    name: 'health path with braces',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, health: "/h{x}" }\n',
    error: `${F}: servers[0].health: "/h{x}" is not a safe health check, ${HEALTH_RULE}`,
  },
  {
    name: 'health path with a quote',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, health: "/h\\"" }\n',
    error: `${F}: servers[0].health: "/h\\"" is not a safe health check, ${HEALTH_RULE}`,
  },
  {
    name: 'image with a space and ;',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, image: "api; rm -rf /" }\n',
    error:
      `${F}: servers[0].image: "api; rm -rf /" is not an image reference` +
      `, expected e.g. "api", "ghcr.io/acme/api:1.2" or "api@sha256:..."`,
  },
  {
    name: 'layout that is neither',
    yaml: 'layout: one\nservers:\n  - { name: a, command: x, port: 9000 }\n',
    error: `${F}: layout: "one" is not a valid choice, expected one of multi, single`,
  },
  {
    name: 'health that is not a path',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, health: http }\n',
    error: `${F}: servers[0].health: "http" is not a safe health check, ${HEALTH_RULE}`,
  },
  {
    name: 'proxy host with ;',
    yaml: `proxy: { host: "127.0.0.1;" }\nservers:\n${core}`,
    error: `${F}: proxy.host: "127.0.0.1;" ${HOST_RULE}`,
  },
  {
    name: 'server host with a newline',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, host: "localhost\\nx" }\n',
    error: `${F}: servers[0].host: "localhost\\nx" ${HOST_RULE}`,
  },
  {
    name: 'server host with a space',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, host: "local host" }\n',
    error: `${F}: servers[0].host: "local host" ${HOST_RULE}`,
  },
  {
    name: 'module name with a brace',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, modules: ["orders}"] }\n',
    error: `${F}: servers[0].modules[0]: "orders}" is not a valid module name, expected ${NAME_RULE}`,
  },
  {
    name: 'module name with a quote',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, modules: ["or\'ders"] }\n',
    error: `${F}: servers[0].modules[0]: "or'ders" is not a valid module name, expected ${NAME_RULE}`,
  },

  // Environment.
  {
    name: 'env name with a dash',
    yaml: 'servers:\n  - { name: a, command: x, env: { LOG-LEVEL: debug } }\n',
    error:
      `${F}: servers[0].env.LOG-LEVEL: "LOG-LEVEL" is not a valid environment variable name` +
      `, expected letters, digits and "_", not starting with a digit`,
  },
  {
    name: 'env name starting with a digit',
    yaml: 'servers:\n  - { name: a, command: x, env: { 1X: y } }\n',
    error:
      `${F}: servers[0].env.1X: "1X" is not a valid environment variable name` +
      `, expected letters, digits and "_", not starting with a digit`,
  },
  {
    name: 'env overriding what the manager sets',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, env: { PORT: 1, SERVER_NAME: b } }\n',
    error: [
      `${F}: servers[0].env.PORT: "PORT" is set by the manager for every process` +
        `, expected it left out (it follows the server's port, host, name and modules)`,
      `${F}: servers[0].env.SERVER_NAME: "SERVER_NAME" is set by the manager for every process` +
        `, expected it left out (it follows the server's port, host, name and modules)`,
    ].join('\n'),
  },

  // Working folder.
  {
    name: 'cwd missing',
    yaml: 'servers:\n  - { name: a, command: x, cwd: nope }\n',
    error:
      `${F}: servers[0].cwd: "${dir}/nope" does not exist` +
      `, expected an existing folder (relative paths start at the config file's folder)`,
  },
  {
    name: 'cwd is a file',
    yaml: 'servers:\n  - { name: a, command: x, cwd: a-file }\n',
    error:
      `${F}: servers[0].cwd: "${dir}/a-file" is not a folder` +
      `, expected an existing folder (relative paths start at the config file's folder)`,
  },

  // Dependencies.
  {
    name: 'depends_on an unknown server',
    yaml: `servers:\n${core}  - { name: api, command: x, depends_on: [coer] }\n`,
    error: `${F}: servers[1].depends_on[0]: unknown server "coer" (did you mean "core"?), expected one of core, api`,
  },
  {
    name: 'depends_on itself',
    yaml: 'servers:\n  - { name: a, command: x, depends_on: [a] }\n',
    error: `${F}: servers[0].depends_on[0]: "a" depends on itself, expected the name of another server`,
  },
  {
    name: 'a 2-cycle',
    yaml: 'servers:\n  - { name: a, command: x, depends_on: [b] }\n  - { name: b, command: x, depends_on: [a] }\n',
    error: `${F}: servers[0].depends_on: dependency cycle "a" -> "b" -> "a", expected dependencies without a cycle`,
  },
  {
    name: 'a 3-cycle after a server outside it',
    yaml:
      'servers:\n  - { name: z, command: x }\n  - { name: a, command: x, depends_on: [z, c] }\n' +
      '  - { name: b, command: x, depends_on: [a] }\n  - { name: c, command: x, depends_on: [b] }\n',
    error: `${F}: servers[1].depends_on: dependency cycle "a" -> "c" -> "b" -> "a", expected dependencies without a cycle`,
  },

  // What only a server with a port can have.
  {
    name: 'health path without a port',
    yaml: 'servers:\n  - { name: worker, command: x, health: /health }\n',
    error: `${F}: servers[0].health: "/health" needs a port but "worker" has none, expected "none" for a server without a port`,
  },
  {
    name: 'tcp health without a port',
    yaml: 'servers:\n  - { name: worker, command: x, health: tcp }\n',
    error: `${F}: servers[0].health: "tcp" needs a port but "worker" has none, expected "none" for a server without a port`,
  },
  {
    name: '{port} in a portless string command',
    yaml: 'servers:\n  - { name: worker, command: "run --port {port}" }\n',
    error: `${F}: servers[0].command: uses {port} but "worker" has no port, expected a port or a command without {port}`,
  },
  {
    name: '{port} in a portless list command',
    yaml: 'servers:\n  - { name: worker, command: [run, "--port={port}"] }\n',
    error: `${F}: servers[0].command: uses {port} but "worker" has no port, expected a port or a command without {port}`,
  },
  {
    name: '{port} in a portless env value',
    yaml: 'servers:\n  - { name: worker, command: run, env: { URL: "http://localhost:{port}" } }\n',
    error: `${F}: servers[0].env.URL: uses {port} but "worker" has no port, expected a port or a value without {port}`,
  },
  {
    name: 'gRPC without a port',
    yaml: 'servers:\n  - { name: worker, command: run, protocol: grpc }\n',
    error: `${F}: servers[0].protocol: "grpc" needs a port but "worker" has none, expected a port or protocol "http"`,
  },

  // Several problems at once, one per line.
  {
    name: 'several shape problems',
    yaml: 'server: []\nproxy: { type: ngnix }\n',
    error: [
      `${F}: server: unknown key (did you mean "servers"?), expected one of proxy, servers, logs, on_failure, layout, after_stop`,
      `${F}: proxy.type: "ngnix" is not a valid choice (did you mean "nginx"?), expected one of nginx, envoy, none`,
      `${F}: servers: missing, expected a non-empty list of servers`,
    ].join('\n'),
  },
  {
    name: 'several problems across servers',
    yaml:
      'servers:\n  - { name: Core, command: x, port: 9000 }\n' +
      '  - { name: b, command: x, port: 9000, depends_on: [nope] }\n  - { name: w, command: x, health: /h }\n',
    error: [
      `${F}: servers[0].name: "Core" is not a valid name, expected ${NAME_RULE}`,
      `${F}: servers[1].port: port 9000 of "b" overlaps 9000 of "Core"`,
      `${F}: servers[1].modules: "Core" and "b" both have no modules` +
        `, expected only one server without modules (it owns "/" behind the proxy)` +
        `; set behind_proxy: false on the one that is not an HTTP server`,
      `${F}: servers[2].health: "/h" needs a port but "w" has none, expected "none" for a server without a port`,
      `${F}: servers[1].depends_on[0]: unknown server "nope", expected one of Core, b, w`,
    ].join('\n'),
  },
  // Shape and meaning are reported together; a bad value never causes a second, made-up problem.
  {
    name: 'an unknown key and a port overlap, in one report',
    yaml:
      'servers:\n  - { name: core, command: x, port: 8002, helth: /health }\n' +
      '  - { name: broker, command: x, port: 8001, instances: 2, modules: [broker] }\n',
    error: [
      `${F}: servers[0].helth: unknown key (did you mean "health"?), expected one of ${SERVER_KEYS}`,
      `${F}: servers[1].port: ports 8001-8002 of "broker" overlap 8002 of "core"`,
    ].join('\n'),
  },
  {
    name: 'a bad port is reported once, without "needs a port" after it, beside problems elsewhere',
    yaml:
      'servers:\n  - { name: api, command: x, port: "80a", health: /health }\n' +
      '  - { name: worker, command: x, depends_on: [api, nope] }\n',
    error: [
      `${F}: servers[0].port: "80a" is not a number, expected a port number from 1 to 65535`,
      `${F}: servers[1].depends_on[1]: unknown server "nope", expected one of api, worker`,
    ].join('\n'),
  },
  {
    name: 'modules that are not a list do not make a second server without modules',
    yaml:
      `servers:\n${core}  - { name: broker, command: x, port: 9001, modules: broker }\n` +
      `  - { name: w, command: x, env: { PORT: 1 }, port: 9002, modules: [w] }\n`,
    error: [
      `${F}: servers[1].modules: "broker" is not a list, expected a list of module names`,
      `${F}: servers[2].env.PORT: "PORT" is set by the manager for every process` +
        `, expected it left out (it follows the server's port, host, name and modules)`,
    ].join('\n'),
  },
  {
    name: 'a server that is not a mapping, and a proxy port of the wrong type, beside a problem elsewhere',
    yaml: 'proxy: { port: eighty }\nservers:\n  - just-a-string\n  - { name: a, command: x, port: 8000 }\n  - { name: Bad, command: x }\n',
    error: [
      `${F}: proxy.port: "eighty" is not a number, expected a port number from 1 to 65535`,
      `${F}: servers[0]: "just-a-string" is not a mapping, expected a mapping with name and command`,
      `${F}: servers[2].name: "Bad" is not a valid name, expected ${NAME_RULE}`,
    ].join('\n'),
  },
]

for (const c of bad) {
  test(`rejects: ${c.name}`, () => {
    const error = loadError(c.yaml)
    assert.equal(error.message, c.error)
    assert.equal(error.code, 'CONFIG')
    assert.equal(error.exitCode, 2)
  })
}

test('rejects a config file that does not exist', () => {
  assert.throws(() => loadConfig('missing.yaml'), {
    code: 'CONFIG',
    message: 'missing.yaml: cannot read the config file (no such file), expected a readable YAML file',
  })
})

test('rejects a folder given as the config file', () => {
  assert.throws(() => loadConfig('app'), {
    code: 'CONFIG',
    message: 'app: cannot read the config file (it is a folder), expected a readable YAML file',
  })
})

const good: { name: string; yaml: string; file?: string; got: (c: Config) => unknown; want: unknown }[] = [
  {
    name: 'a server with a port gets the defaults and tcp health',
    yaml: 'servers:\n  - { name: api, command: run, port: 9000 }\n',
    got: ({ servers: [s] }) => ({
      health: s.health,
      instances: s.instances,
      modules: s.modules,
      env: s.env,
      host: s.host,
      restart: s.restart,
      max_restarts: s.max_restarts,
      ready_timeout: s.ready_timeout,
      stop_timeout: s.stop_timeout,
      depends_on: s.depends_on,
      protocol: s.protocol,
      cwd: s.cwd,
    }),
    want: {
      health: 'tcp',
      instances: 1,
      modules: [],
      env: {},
      host: '127.0.0.1',
      restart: 'on-failure',
      max_restarts: 5,
      ready_timeout: 30,
      stop_timeout: 3,
      depends_on: [],
      protocol: 'http',
      cwd: dir,
    },
  },
  {
    name: 'a portless server has no health check',
    yaml: 'servers:\n  - { name: worker, command: run }\n',
    got: ({ servers: [s] }) => [s.port, s.health],
    want: [undefined, 'none'],
  },
  {
    name: 'given values win over the defaults',
    yaml:
      'servers:\n' +
      '  - { name: api, command: run, port: 9000, health: /healthz, restart: no' +
      ', max_restarts: 0, ready_timeout: 0.5, stop_timeout: 0, instances: 3 }\n' +
      '',
    got: ({ servers: [s] }) => [s.health, s.restart, s.max_restarts, s.ready_timeout, s.stop_timeout, s.instances],
    want: ['/healthz', 'no', 0, 0.5, 0, 3],
  },
  {
    name: 'restart: always',
    yaml: 'servers:\n  - { name: api, command: run, restart: always }\n',
    got: ({ servers: [s] }) => s.restart,
    want: 'always',
  },
  {
    name: 'cwd is relative to the config file folder',
    file: 'sub/stack.yaml',
    yaml: 'servers:\n  - { name: api, command: run, cwd: app }\n',
    got: ({ servers: [s] }) => s.cwd,
    want: path.join(dir, 'sub', 'app'),
  },
  {
    name: 'cwd defaults to the config file folder',
    file: 'sub/stack.yaml',
    yaml: 'servers:\n  - { name: api, command: run }\n',
    got: ({ servers: [s] }) => s.cwd,
    want: path.join(dir, 'sub'),
  },
  {
    name: 'an absolute cwd is kept',
    file: 'sub/stack.yaml',
    yaml: `servers:\n  - { name: api, command: run, cwd: "${dir}/app" }\n`,
    got: ({ servers: [s] }) => s.cwd,
    want: path.join(dir, 'app'),
  },
  {
    name: 'proxy defaults',
    yaml: 'servers:\n  - { name: api, command: run }\n',
    got: ({ proxy }) => proxy,
    want: {
      type: 'nginx',
      host: '127.0.0.1',
      port: 8000,
      routing_strategy: 'path',
      api_prefix: '/api/v1',
      admin_port: 9901,
      grpc_port: 50051,
    },
  },
  {
    name: 'a key with no value takes the default',
    yaml: 'proxy:\n  port:\nservers:\n  - { name: api, command: run, port: 9000, instances: }\n',
    got: (c) => [c.proxy.port, c.servers[0].instances],
    want: [8000, 1],
  },
  {
    name: 'servers inherit the proxy host',
    yaml: 'proxy: { host: localhost }\nservers:\n  - { name: a, command: run }\n  - { name: b, command: run, host: "::1" }\n',
    got: (c) => c.servers.map((s) => s.host),
    want: ['localhost', '::1'],
  },
  {
    name: 'env values become strings',
    yaml: 'servers:\n  - { name: a, command: run, env: { A: 1, B: true, C: , D: text } }\n',
    got: ({ servers: [s] }) => s.env,
    want: { A: '1', B: 'true', C: '', D: 'text' },
  },
  {
    name: 'numbers in a list command become strings',
    yaml: 'servers:\n  - { name: a, command: [sleep, 100] }\n',
    got: ({ servers: [s] }) => s.command,
    want: ['sleep', '100'],
  },
  {
    name: 'a portless worker may set PORT itself',
    yaml: 'servers:\n  - { name: w, command: run, env: { PORT: 1 } }\n',
    got: ({ servers: [s] }) => s.env,
    want: { PORT: '1' },
  },
  {
    name: 'the envoy admin port is free under nginx',
    yaml: 'servers:\n  - { name: a, command: run, port: 9901 }\n',
    got: ({ servers: [s] }) => s.port,
    want: 9901,
  },
  {
    name: 'the gRPC port is free without gRPC servers',
    yaml: 'servers:\n  - { name: a, command: run, port: 50051 }\n',
    got: ({ servers: [s] }) => s.port,
    want: 50051,
  },
  {
    name: 'gRPC servers only: proxy.port is not bound, so a worker may use it',
    yaml: 'servers:\n  - { name: rpc, command: run, port: 8000, instances: 2, protocol: grpc }\n',
    got: ({ servers: [s] }) => s.port,
    want: 8000,
  },
  {
    name: 'a gRPC server kept out of the proxy leaves grpc_port free',
    yaml:
      'servers:\n  - { name: a, command: run, port: 50051 }\n' +
      '  - { name: rpc, command: run, port: 50060, protocol: grpc, behind_proxy: false }\n',
    got: (c) => c.servers.map((s) => s.port),
    want: [50051, 50060],
  },
  {
    name: 'two gRPC servers are fine without a proxy',
    yaml:
      'proxy: { type: none }\nservers:\n  - { name: a, command: run, port: 9000, protocol: grpc }\n' +
      '  - { name: b, command: run, port: 9100, protocol: grpc }\n',
    got: (c) => c.servers.length,
    want: 2,
  },
  {
    name: 'the proxy port is free with no proxy',
    yaml: 'proxy: { type: none }\nservers:\n  - { name: a, command: run, port: 8000 }\n  - { name: b, command: run, port: 8001 }\n',
    got: (c) => c.servers.map((s) => s.port),
    want: [8000, 8001],
  },
  {
    name: 'the last port may be 65535',
    yaml: 'servers:\n  - { name: a, command: run, port: 65534, instances: 2 }\n',
    got: ({ servers: [s] }) => s.instances,
    want: 2,
  },
  {
    name: 'logs defaults',
    yaml: 'servers:\n  - { name: a, command: run }\n',
    got: (c) => c.logs,
    want: { max_size: 50 * 1024 * 1024, keep: 3 },
  },
]

for (const c of good) {
  test(`accepts: ${c.name}`, () => {
    assert.deepEqual(c.got(load(c.yaml, c.file)), c.want)
  })
}

test('the bundled dev-config.yaml is valid, and its frozen copy parses to the three demo servers', () => {
  assert.ok(loadConfig(path.join(originalCwd, 'dev-config.yaml')).servers.length > 0)
  const config = loadConfig(path.join(originalCwd, 'test', 'fixtures', 'configs', 'dev-config.yaml'))
  assert.deepEqual(
    config.servers.map((s) => [s.name, s.port, s.instances, s.modules]),
    [
      ['core', 8004, 1, []],
      ['broker', 8001, 1, ['broker']],
      ['datafeed', 8002, 2, ['datafeed']],
    ],
  )
})

test('cache: start and restart reuse the last parsed YAML by content hash, and never cache a config that fails', () => {
  const cacheFile = path.join(dir, 'cache', 'config-cache.json')
  const file = path.join(dir, 'cached.yaml')
  fs.writeFileSync(file, 'servers:\n  - { name: api, command: run, port: 9700 }\n')
  // No state folder in use yet: nothing is created.
  assert.equal(loadConfig(file, { cacheFile }).servers[0].port, 9700)
  assert.equal(fs.existsSync(path.dirname(cacheFile)), false)
  fs.mkdirSync(path.dirname(cacheFile))
  assert.equal(loadConfig(file, { cacheFile }).servers[0].port, 9700)
  const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8'))
  // Same text, doctored cache: the cached parse is what gets used (and still validated).
  cached.raw.servers[0].port = 9701
  fs.writeFileSync(cacheFile, JSON.stringify(cached))
  assert.equal(loadConfig(file, { cacheFile }).servers[0].port, 9701)
  cached.raw.servers[0].port = 0
  fs.writeFileSync(cacheFile, JSON.stringify(cached))
  assert.throws(() => loadConfig(file, { cacheFile }), /servers\[0\]\.port/)
  // New text: a miss, parsed afresh and cached.
  fs.writeFileSync(file, 'servers:\n  - { name: api, command: run, port: 9702 }\n')
  assert.equal(loadConfig(file, { cacheFile }).servers[0].port, 9702)
  const before = fs.readFileSync(cacheFile, 'utf8')
  fs.writeFileSync(file, 'servers:\n  - { name: api, command: run, port: 99999 }\n')
  assert.throws(() => loadConfig(file, { cacheFile }), /99999/)
  assert.equal(fs.readFileSync(cacheFile, 'utf8'), before)
})
