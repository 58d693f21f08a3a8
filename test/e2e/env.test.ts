// Environment from outside the config reaches real processes behind real nginx: env_file, ${VAR:-default} from the
// CLI's environment and the .env beside the config, {port:NAME}/{host:NAME}; restart and apply read them as start did.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { fixtureServer, freePorts, httpGet, useHome, waitFor, type CliResult } from '../helpers.ts'

const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
const ok = (r: CliResult, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}${r.stderr}`)

interface Report {
  port: number
  pid: number
  argv: string[]
  env: Record<string, string>
}

async function report(url: string): Promise<Report> {
  const r = await waitFor(
    async () => {
      const answer = await httpGet(url).catch(() => undefined)
      return answer?.status === 200 ? answer : undefined
    },
    30_000,
    `an answer from ${url}`,
  )
  return JSON.parse(r.body) as Report
}

test('env_file, ${VAR:-default} and {port:NAME} reach the process; restart and apply keep the start values', async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = useHome(t, 'bm-env-')
  const base = await freePorts(3)
  const front = base + 2
  fs.mkdirSync(path.join(home.root, 'envs'))
  // Relative to the config's folder, not to the server's cwd (the repository).
  fs.writeFileSync(
    path.join(home.root, 'envs', 'api.env'),
    '# api settings\nexport DB_URL="postgres://db/app # not a comment"\nFROM_FILE=file\nOVERRIDDEN=file\n',
  )
  fs.writeFileSync(path.join(home.root, '.env'), 'REGION=eu-dotenv\nMODE=dotenv-loses\n')
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: front },
    servers: [
      fixtureServer('api', 'env-reporter.mjs', base, {
        command: 'node test/fixtures/env-reporter.mjs --mode ${MODE:-dev} --region ${REGION} --web {port:web} $$HOME',
        health: '/health',
        env_file: 'envs/api.env',
        env: {
          OVERRIDDEN: 'config',
          WEB_URL: 'http://{host:web}:{port:web}/api/v1/web/',
          LEVEL: '${LEVEL:-info}',
          TAG: '${TAG}',
        },
      }),
      fixtureServer('web', 'http-server.mjs', base + 1, { modules: ['web'] }),
    ],
  })
  const startEnv = { MODE: 'prod', TAG: 'v1' }
  ok(await home.cli(['start', config], { env: startEnv }), 'start')

  const first = await report(`http://127.0.0.1:${front}/whoami`)
  assert.equal(first.port, base)
  // The environment wins over .env; .env fills what the environment lacks; $$ is a literal $ for the shell.
  assert.deepEqual(first.argv, ['--mode', 'prod', '--region', 'eu-dotenv', '--web', String(base + 1), os.homedir()])
  assert.equal(first.env.DB_URL, 'postgres://db/app # not a comment')
  assert.equal(first.env.FROM_FILE, 'file')
  assert.equal(first.env.OVERRIDDEN, 'config')
  assert.equal(first.env.WEB_URL, `http://127.0.0.1:${base + 1}/api/v1/web/`)
  assert.equal(first.env.LEVEL, 'info')
  assert.equal(first.env.TAG, 'v1')
  // The address it was given reaches the other server.
  const web = JSON.parse((await httpGet(first.env.WEB_URL)).body) as { server: string; port: number }
  assert.deepEqual([web.server, web.port], ['web', base + 1])

  // Another shell restarts it: the values are the start's, so nothing differs and the restart is in place.
  const laterEnv = { MODE: 'changed', TAG: 'v2', LEVEL: 'debug' }
  const restart = await home.cli(['restart'], { env: laterEnv, timeoutMs: 120_000 })
  ok(restart, 'restart')
  assert.match(restart.stdout, /^restarted api-0 +pid \d+ -> \d+/m)
  const second = await report(`http://127.0.0.1:${front}/whoami`)
  assert.notEqual(second.pid, first.pid, 'restart restarted api')
  assert.deepEqual(second.argv, first.argv)
  assert.equal(second.env.TAG, 'v1')
  assert.equal(second.env.LEVEL, 'info')
  const apply = await home.cli(['apply'], { env: laterEnv })
  ok(apply, 'apply')
  assert.match(apply.stdout, /^no changes/)

  // An edit of the env file is a change apply takes (the file is read again, the start's variables are kept).
  fs.appendFileSync(path.join(home.root, 'envs', 'api.env'), 'FROM_FILE=edited\n')
  const applied = await home.cli(['apply'], { env: laterEnv, timeoutMs: 120_000 })
  ok(applied, 'apply of the edited env file')
  assert.match(applied.stdout, /env FROM_FILE changed/)
  const third = await report(`http://127.0.0.1:${front}/whoami`)
  assert.equal(third.env.FROM_FILE, 'edited')
  assert.equal(third.env.TAG, 'v1')
})

test('an unknown variable, an unknown server and a missing env_file stop the start before anything runs', async (t) => {
  const home = useHome(t, 'bm-env-bad-')
  const base = await freePorts(1)
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'env-reporter.mjs', base, {
        command: 'node test/fixtures/env-reporter.mjs ${NOT_SET_ANYWHERE}',
        env_file: ['missing.env'],
        env: { PEER: '{port:nobody}' },
      }),
    ],
  })
  const first = await home.cli(['start', config])
  assert.equal(first.code, 2, first.stderr)
  assert.match(first.stderr, new RegExp(`${config}: servers\\[0\\]\\.command: variable NOT_SET_ANYWHERE is not set`))
  assert.equal(home.state(), undefined)
  const second = await home.cli(['start', config], { env: { NOT_SET_ANYWHERE: 'now-set' } })
  assert.equal(second.code, 2, second.stderr)
  assert.match(second.stderr, new RegExp(`servers\\[0\\]\\.env_file: "${home.root}/missing\\.env" does not exist`))
  assert.match(second.stderr, /servers\[0\]\.env\.PEER: \{port:nobody\} names no server, expected one of api/)
  assert.equal(home.state(), undefined)
})
