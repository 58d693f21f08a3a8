// Shell completion scripts (bash, zsh, fish) generated from the commands' declarations; the names of the
// running stack's servers come at completion time from "completion --names", which reads only the state file.
import { usageError } from '../core/errors.ts'
import type { CommandDecl, Flags } from './command.ts'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

const PROGRAM = 'backend-manager'
const FUNC = '_backend_manager'
const GLOBAL_FLAGS = ['--home', '--version', '--help']
// A word that goes into a script unquoted must be one of these characters only.
const WORD = /^-{0,2}[a-z0-9][a-z0-9-]*$/

// What the positional arguments of a command are: instances (and nginx's and the supervisor's logs) of the
// running stack, its servers as NAME=, a shell; any other command takes a file (its config).
const ARGS: Record<string, 'logs' | 'instances' | 'assign' | 'shells'> = {
  logs: 'logs',
  pause: 'instances',
  resume: 'instances',
  scale: 'assign',
  completion: 'shells',
}
const LOG_EXTRAS = ['nginx', 'supervisor']
// Flags whose value is a list of server names of the running stack (a,b).
const SERVER_FLAGS: Record<string, string[]> = { restart: ['--only'] }

interface Entry {
  name: string
  summary: string
  flags: string[]
  // Flags followed by a value (the next word is that value, not a flag or an argument); files: a file's path.
  valued: string[]
  files: string[]
  // Whether it takes positional arguments (or subcommands) at all.
  args: boolean
  subcommands: string[]
}

function checked(word: string): string {
  if (!WORD.test(word)) throw new Error(`a command or flag name unfit for a shell script: ${JSON.stringify(word)}`)
  return word
}

function flagWords(flags: Flags = {}): { flags: string[]; valued: string[]; files: string[] } {
  const out = { flags: [] as string[], valued: [] as string[], files: [] as string[] }
  for (const [name, flag] of Object.entries(flags)) {
    const words = [`--${name}`, ...(flag.short ? [`-${flag.short}`] : [])].map(checked)
    out.flags.push(...words)
    if (flag.type === 'string') out.valued.push(...words)
    if (flag.value === 'FILE' || flag.value === 'DIR') out.files.push(...words)
  }
  return out
}

// Each visible command with its flags (its subcommands' too) and its subcommands.
export function completionEntries(decls: readonly CommandDecl[]): Entry[] {
  return decls
    .filter((decl) => !decl.hidden)
    .map((decl) => {
      const own = flagWords(decl.flags)
      const subs = Object.values(decl.subcommands ?? {}).map((sub) => flagWords(sub.flags))
      const unique = (words: string[]) => [...new Set(words)]
      return {
        name: checked(decl.name),
        summary: decl.summary,
        flags: unique([...own.flags, ...subs.flatMap((s) => s.flags), '--help']),
        valued: unique([...own.valued, ...subs.flatMap((s) => s.valued)]),
        files: unique([...own.files, ...subs.flatMap((s) => s.files)]),
        args: Boolean(decl.args?.length || decl.subcommands),
        subcommands: Object.keys(decl.subcommands ?? {}).map(checked),
      }
    })
}

// A string in single quotes for any of the three shells' source.
const quoted = (text: string) => `'${text.replace(/\s+/g, ' ').replace(/'/g, `'\\''`)}'`
const fishQuoted = (text: string) => `'${text.replace(/\s+/g, ' ').replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

export function completionScript(shell: Shell, decls: readonly CommandDecl[]): string {
  const entries = completionEntries(decls)
  if (shell === 'bash') return bashScript(entries)
  if (shell === 'zsh') return zshScript(entries)
  return fishScript(entries)
}

export function parseShell(word: string | undefined): Shell {
  if (word && (SHELLS as readonly string[]).includes(word)) return word as Shell
  throw usageError(
    `completion: expected the shell, one of ${SHELLS.join(', ')}${word ? `, got ${JSON.stringify(word)}` : ''}` +
      ` (as in: source <(${PROGRAM} completion bash))`,
  )
}

// The cases shared by bash and zsh: for each command, its flags, its valued flags and what its arguments are.
function caseLines(entries: Entry[], body: (e: Entry) => string): string {
  return entries.map((e) => `    ${e.name}) ${body(e)} ;;`).join('\n')
}

const argKind = (e: Entry): string => ARGS[e.name] ?? (e.args ? 'files' : 'none')

// One command's words as the scripts' variables: a space-padded string in bash, arrays in zsh.
const bashCase = (e: Entry) =>
  `flags="${e.flags.join(' ')}"; valued=" ${e.valued.join(' ')} "; files=" ${e.files.join(' ')} "; ` +
  `subs="${e.subcommands.join(' ')}"; kind=${argKind(e)}`
const zshCase = (e: Entry) =>
  `flags=(${e.flags.join(' ')}); valued=(${e.valued.join(' ')}); files=(${e.files.join(' ')}); ` +
  `subs=(${e.subcommands.join(' ')}); kind=${argKind(e)}`

function bashScript(entries: Entry[]): string {
  return `# bash completion for ${PROGRAM}: source <(${PROGRAM} completion bash)
${FUNC}_names() {
  local i home=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    [[ \${COMP_WORDS[i]} == --home ]] && home=(--home "\${COMP_WORDS[i + 1]}")
  done
  "\${COMP_WORDS[0]}" "\${home[@]}" completion --names "$@" 2>/dev/null
}

${FUNC}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD - 1]}" cmd="" i
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --home) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ $prev == --home ]]; then
    COMPREPLY=($(compgen -d -- "$cur"))
    return
  fi
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "${entries.map((e) => e.name).join(' ')} ${GLOBAL_FLAGS.join(' ')}" -- "$cur"))
    return
  fi
  local flags="" valued="" files="" subs="" kind=""
  case "$cmd" in
${caseLines(entries, bashCase)}
    *) return ;;
  esac
  case "$cmd $prev" in
${Object.entries(SERVER_FLAGS)
  .flatMap(([cmd, flags]) => flags.map((f) => `    "${cmd} ${f}")`))
  .join('\n')}
      local head=""
      [[ $cur == *,* ]] && head="\${cur%,*},"
      COMPREPLY=($(compgen -P "$head" -W "$(${FUNC}_names)" -- "\${cur##*,}"))
      return ;;
  esac
  if [[ $valued == *" $prev "* ]]; then
    [[ $files == *" $prev "* ]] && COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --home" -- "$cur"))
    return
  fi
  case "$kind" in
    logs) COMPREPLY=($(compgen -W "$(${FUNC}_names --instances) ${LOG_EXTRAS.join(' ')} $subs" -- "$cur")) ;;
    instances) COMPREPLY=($(compgen -W "$(${FUNC}_names --instances)" -- "$cur")) ;;
    assign)
      COMPREPLY=($(compgen -S = -W "$(${FUNC}_names)" -- "$cur"))
      compopt -o nospace 2>/dev/null ;;
    shells) COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")) ;;
    files) COMPREPLY=($(compgen -W "$subs" -- "$cur") $(compgen -f -- "$cur")) ;;
  esac
  return 0
}
complete -F ${FUNC} ${PROGRAM}
`
}

// Native zsh completion (commands with their summaries); sourced, or saved as _backend-manager in $fpath.
function zshScript(entries: Entry[]): string {
  const described = entries.map((e) => `    ${quoted(`${e.name}:${e.summary.replace(/:/g, '\\:')}`)}`).join('\n')
  return `#compdef ${PROGRAM}
# zsh completion for ${PROGRAM}: source <(${PROGRAM} completion zsh)
${FUNC}_names() {
  local i
  local -a home
  for ((i = 2; i < CURRENT; i++)); do
    [[ \${words[i]} == --home ]] && home=(--home "\${words[i + 1]}")
  done
  "\${words[1]}" "\${home[@]}" completion --names "$@" 2>/dev/null
}

${FUNC}() {
  local cmd="" prev="\${words[CURRENT - 1]}" i
  local -a commands flags valued files subs names
  commands=(
${described}
  )
  for ((i = 2; i < CURRENT; i++)); do
    case "\${words[i]}" in
      --home) ((i++)) ;;
      -*) ;;
      *) cmd="\${words[i]}"; break ;;
    esac
  done
  if [[ $prev == --home ]]; then
    _directories
    return
  fi
  if [[ -z $cmd ]]; then
    if [[ $PREFIX == -* ]]; then compadd -- ${GLOBAL_FLAGS.join(' ')}; else _describe command commands; fi
    return
  fi
  local kind=files
  case "$cmd" in
${caseLines(entries, zshCase)}
    *) return 1 ;;
  esac
  case "$cmd $prev" in
${Object.entries(SERVER_FLAGS)
  .flatMap(([cmd, flags]) => flags.map((f) => `    "${cmd} ${f}")`))
  .join('\n')}
      names=(\${(f)"$(${FUNC}_names)"})
      compset -P '*,'
      compadd -S '' -- "\${names[@]}"
      return ;;
  esac
  if (( \${valued[(Ie)$prev]} )); then
    (( \${files[(Ie)$prev]} )) && _files
    return
  fi
  if [[ $PREFIX == -* ]]; then
    compadd -- "\${flags[@]}" --home
    return
  fi
  case "$kind" in
    logs) names=(\${(f)"$(${FUNC}_names --instances)"}); compadd -- "\${names[@]}" ${LOG_EXTRAS.join(' ')} "\${subs[@]}" ;;
    instances) names=(\${(f)"$(${FUNC}_names --instances)"}); compadd -- "\${names[@]}" ;;
    assign) names=(\${(f)"$(${FUNC}_names)"}); compadd -S = -- "\${names[@]}" ;;
    shells) compadd -- ${SHELLS.join(' ')} ;;
    files) (( \${#subs} )) && compadd -- "\${subs[@]}"; _files ;;
  esac
}
# Autoloaded from $fpath: complete now; sourced: register for the command.
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${FUNC} "$@"
elif (( $+functions[compdef] )); then
  compdef ${FUNC} ${PROGRAM}
fi
`
}

function fishScript(entries: Entry[]): string {
  const c = `complete -c ${PROGRAM}`
  const seen = (name: string) => `'__fish_seen_subcommand_from ${name}'`
  const lines = entries.flatMap((e) => {
    const out = [`${c} -n __fish_use_subcommand -a ${e.name} -d ${fishQuoted(e.summary)}`]
    for (const flag of e.flags) {
      const option = flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`
      const servers = (SERVER_FLAGS[e.name] ?? []).includes(flag)
      const value = servers
        ? ` -x -a '(${FUNC}_names)'`
        : e.files.includes(flag)
          ? ' -r -F'
          : e.valued.includes(flag)
            ? ' -x'
            : ''
      out.push(`${c} -n ${seen(e.name)} ${option}${value}`)
    }
    for (const sub of e.subcommands) out.push(`${c} -n ${seen(e.name)} -a ${sub}`)
    const kind = argKind(e)
    if (kind === 'logs') out.push(`${c} -n ${seen(e.name)} -a '(${FUNC}_names --instances) ${LOG_EXTRAS.join(' ')}'`)
    if (kind === 'instances') out.push(`${c} -n ${seen(e.name)} -a '(${FUNC}_names --instances)'`)
    if (kind === 'assign') out.push(`${c} -n ${seen(e.name)} -a '(${FUNC}_names | string replace -r \\$ =)'`)
    if (kind === 'shells') out.push(`${c} -n ${seen(e.name)} -a '${SHELLS.join(' ')}'`)
    if (kind === 'files') out.push(`${c} -n ${seen(e.name)} -F`)
    return out
  })
  return `# fish completion for ${PROGRAM}: ${PROGRAM} completion fish | source
function ${FUNC}_names
    set -l words (commandline -opc)
    set -l home
    set -l i (contains -i -- --home $words)
    and set home --home $words[(math $i + 1)]
    $words[1] $home completion --names $argv 2>/dev/null
end
${c} -f
${c} -l home -r -a '(__fish_complete_directories)' -d 'runtime state folder'
${c} -l version -d 'print the version'
${c} -s h -l help -d 'show help'
${lines.join('\n')}
`
}

// The running stack's server names (with instances: and each instance, NAME-i), from its state file as read.
export function stackNames(state: Record<string, unknown> | undefined, instances: boolean): string[] {
  const processes = Array.isArray(state?.processes) ? (state.processes as Record<string, unknown>[]) : []
  const servers = processes.filter((p) => p?.kind === 'server' && typeof p.server === 'string')
  const names = servers.map((p) => p.server as string)
  const ids = instances ? servers.flatMap((p) => (typeof p.id === 'string' ? [p.id] : [])) : []
  // A name goes into a shell's word list: anything but a plain name is left out.
  return [...new Set([...names, ...ids])].filter((name) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
}
