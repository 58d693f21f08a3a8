// Shell completion end to end: the bash script sourced in a real bash and asked for candidates (commands, the
// flags start declares, the servers and instances of a running stack); fish's own completer on its script; zsh's
// script loads and calls back for the names. The callback loads nothing of a stack.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import startMeta from '../../scripts/commands/start.meta.ts'
import { cliEntry, fixtureServer, freePorts, hasCommand, repoRoot, startOk, useHome } from '../helpers.ts'

const home = useHome({ after }, 'bm-completion-')
// backend-manager on the PATH, as a user has it.
const binDir = path.join(home.root, 'bin-path')
const scripts: Record<string, string> = {}

function shell(program: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
          BACKEND_MANAGER_HOME: home.root,
          ...env,
        },
        timeout: 60_000,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${program} ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    )
  })
}

// The candidates bash's completion function offers for the words typed so far (the last is being completed).
async function bashComplete(words: string[], env?: NodeJS.ProcessEnv): Promise<string[]> {
  const quoted = ['backend-manager', ...words].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')
  const program = `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _backend_manager
printf '%s\\n' "\${COMPREPLY[@]}"`
  const out = await shell('bash', ['-c', program, 'bash', scripts.bash], env)
  return out.split('\n').filter(Boolean).sort()
}

const sorted = (words: string[]) => [...words].sort()

before(async () => {
  fs.mkdirSync(binDir)
  fs.symlinkSync(cliEntry, path.join(binDir, 'backend-manager'))
  for (const name of ['bash', 'zsh', 'fish']) {
    const r = await home.cli(['completion', name])
    assert.equal(r.code, 0, r.stderr)
    scripts[name] = path.join(home.root, `completion.${name}`)
    fs.writeFileSync(scripts[name], r.stdout)
  }
})

test('a shell it has no script for is a usage error naming the shells', async () => {
  const r = await home.cli(['completion', 'tcsh'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /expected the shell, one of bash, zsh, fish, got "tcsh"/)
})

test("bash: commands, start's declared flags, shells, and no server names while nothing runs", async () => {
  assert.deepEqual(await bashComplete(['st']), ['start', 'status', 'stop'])
  const all = await bashComplete([''])
  for (const command of ['start', 'logs', 'schema', 'completion', 'scale', '--home']) assert.ok(all.includes(command))
  assert.ok(!all.includes('supervise'), 'an internal command is not offered')
  const startFlags = [...Object.keys(startMeta.flags).map((f) => `--${f}`), '--help', '--home']
  assert.deepEqual(await bashComplete(['start', '--']), sorted(startFlags))
  assert.deepEqual(await bashComplete(['logs', '--f']), ['--follow'])
  assert.deepEqual(await bashComplete(['completion', '']), ['bash', 'fish', 'zsh'])
  assert.deepEqual(await bashComplete(['logs', '']), ['clean', 'nginx', 'supervisor'])
  assert.deepEqual(await bashComplete(['pause', '']), [])
})

test('the names callback loads nothing of a stack, a config or a proxy', () => {
  const loaded = new Set<string>()
  const visit = (file: string) => {
    if (loaded.has(file)) return
    loaded.add(file)
    const text = fs.readFileSync(path.join(repoRoot, file), 'utf8')
    for (const m of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\b[^'"`;]*?from\s+'([^']+)'/g))
      if (!m[2] && m[3].startsWith('.')) visit(path.normalize(path.join(path.dirname(file), m[3])))
  }
  visit('scripts/commands/completion.ts')
  const heavy = [...loaded].filter((f) => /^lib\/(stack|config|proxy|probe|logs)\//.test(f))
  assert.deepEqual(heavy, [], [...loaded].join(' '))
})

test('with a stack running: its servers and instances for logs, pause, resume, scale and restart --only', async (t) => {
  const port = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'http-server.mjs', port, { instances: 2 }),
      { name: 'worker', command: ['node', '-e', 'setInterval(() => {}, 1000)'], health: 'none', stop_timeout: 0.5 },
    ],
  })
  await startOk(home, config)
  const ids = (await home.cli(['status', '--json'])).stdout
  const instances = sorted(
    JSON.parse(ids)
      .processes.map((p: { id: string }) => p.id)
      .filter((id: string) => /^(api|worker)-\d+$/.test(id)),
  )
  assert.deepEqual(instances.length, 3, ids)

  const names = (await home.cli(['completion', '--names'])).stdout
  assert.equal(names, 'api\nworker\n')
  assert.deepEqual(
    await bashComplete(['logs', '']),
    sorted(['api', 'worker', ...instances, 'clean', 'nginx', 'supervisor']),
  )
  assert.deepEqual(await bashComplete(['pause', 'a']), sorted(['api', ...instances.filter((i) => i.startsWith('a'))]))
  assert.deepEqual(
    await bashComplete(['resume', 'w']),
    sorted(['worker', ...instances.filter((i) => i.startsWith('w'))]),
  )
  assert.deepEqual(await bashComplete(['scale', '']), ['api=', 'worker='])
  assert.deepEqual(await bashComplete(['restart', '--only', '']), ['api', 'worker'])
  assert.deepEqual(await bashComplete(['restart', '--only', 'worker,a']), ['worker,api'])
  // --home on the line names the stack, wherever the shell is.
  const elsewhere = { BACKEND_MANAGER_HOME: path.join(home.root, 'nothing-here') }
  assert.deepEqual(await bashComplete(['scale', ''], elsewhere), [])
  assert.deepEqual(await bashComplete(['--home', home.root, 'scale', ''], elsewhere), ['api=', 'worker='])

  if (hasCommand('fish')) {
    const fish = async (line: string) =>
      (await shell('fish', ['--no-config', '-c', `source ${scripts.fish}; complete -C '${line}'`]))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0])
        .sort()
    assert.deepEqual(await fish('backend-manager scale '), ['api=', 'worker='])
    assert.deepEqual(await fish('backend-manager pause '), sorted(['api', 'worker', ...instances]))
    assert.deepEqual(await fish('backend-manager restart --only '), ['api', 'worker'])
    assert.deepEqual(await fish('backend-manager start --no'), ['--no-wait'])
    assert.ok((await fish('backend-manager sta')).includes('status'))
  } else t.diagnostic('fish is not installed: its completion is not tried')
  if (hasCommand('zsh')) {
    // Completing in zsh needs its line editor; this checks that the script registers and calls back for names.
    const zsh = await shell('zsh', [
      '-f',
      '-c',
      `autoload -U compinit && compinit -u -d ${home.root}/zcompdump; source ${scripts.zsh}
print -r -- $_comps[backend-manager]; words=(backend-manager logs ''); CURRENT=3; _backend_manager_names --instances`,
    ])
    assert.deepEqual(zsh.split('\n').filter(Boolean), ['_backend_manager', 'api', 'worker', ...instances])
  } else t.diagnostic('zsh is not installed: its completion is not tried')
})

test('every script is valid in its shell', async () => {
  for (const name of ['bash', 'zsh', 'fish']) {
    if (!hasCommand(name)) continue
    await shell(name, ['-n', scripts[name]])
  }
})
