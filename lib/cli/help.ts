// Usage lines, --help text and the command list, all generated from the commands' declarations.
import { didYouMean } from '../config/schema.ts'
import { usageError } from '../core/errors.ts'
import { needsSubcommand, type CommandDecl, type FlagDecl, type SubcommandDecl } from './command.ts'

const WIDTH = 100
const PROGRAM = 'backend-manager'

type Row = [term: string, description: string]

// Words (or whole phrases) to lines of at most `width` characters; the first line may be shorter.
function fill(words: string[], width: number, first = width): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of words) {
    if (line && line.length + 1 + word.length > (lines.length ? width : first)) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return [...lines, line]
}

const wrap = (text: string, width: number) => text.split('\n').flatMap((p) => fill(p.split(' '), width))

// Two columns: the term, then its description wrapped beside it.
function columns(rows: Row[], indent = '  ', width = Math.max(...rows.map(([term]) => term.length))): string[] {
  return rows.flatMap(([term, description]) => {
    // A description may run over several source lines; it is one paragraph here.
    const [first, ...more] = wrap(
      description.replace(/\s*\n\s*/g, ' '),
      Math.max(40, WIDTH - indent.length - width - 2),
    )
    return [`${indent}${term.padEnd(width)}  ${first}`, ...more.map((l) => `${indent}${' '.repeat(width + 2)}${l}`)]
  })
}

const valueName = (flag: FlagDecl) => flag.value ?? flag.choices?.join('|') ?? 'VALUE'

function flagRow(name: string, flag: FlagDecl): Row {
  const value = flag.type === 'string' ? ` ${valueName(flag)}` : ''
  const term = flag.short ? `-${flag.short}, --${name}${value}` : `--${name}${value}`
  return [term, flag.default === undefined ? flag.description : `${flag.description} (default: ${flag.default})`]
}

// The words of a usage line after the command: its arguments, each flag (short form where there is one), "-- REST".
function usageWords(spec: SubcommandDecl): string[] {
  const args = (spec.args ?? []).map((a) => `[${a.name}${a.repeated ? ' ...' : ''}]`)
  const flags = Object.entries(spec.flags ?? {}).map(([name, f]) => {
    const word = f.short ? `-${f.short}` : `--${name}`
    const shown = f.type === 'string' ? `${word} ${valueName(f)}` : word
    return f.required ? shown : `[${shown}]`
  })
  return [...args, ...flags, ...(spec.rest ? [`[-- ${spec.rest.name}]`] : [])]
}

// A usage line, wrapped under its first word after the command.
function usage(lead: string, command: string, spec: SubcommandDecl, indent = lead.length): string[] {
  const head = `${lead}${command}`
  const [first, ...more] = fill(usageWords(spec), WIDTH - indent - command.length - 1, WIDTH - head.length - 1)
  const pad = ' '.repeat(indent + command.length + 1)
  return [first ? `${head} ${first}` : head, ...more.map((l) => pad + l)]
}

// Arguments and options, one row each (the help flag last where asked).
function rows(spec: SubcommandDecl, help?: string): { args: Row[]; options: Row[] } {
  const args: Row[] = (spec.args ?? []).map((a) => [a.name, a.description])
  if (spec.rest) args.push([spec.rest.name, spec.rest.description])
  const options = Object.entries(spec.flags ?? {}).map(([name, flag]) => flagRow(name, flag))
  if (help) options.push(['-h, --help', help])
  return { args, options }
}

function sections(spec: SubcommandDecl, help: string): string[] {
  const { args, options } = rows(spec, help)
  const width = Math.max(...[...args, ...options].map(([term]) => term.length))
  return [
    ...(args.length ? ['', 'Arguments:', ...columns(args, '  ', width)] : []),
    ...(options.length ? ['', 'Options:', ...columns(options, '  ', width)] : []),
  ]
}

// One subcommand on its parent's page: its usage, what it adds to its summary, its arguments and options.
function subcommandBlock(decl: CommandDecl, name: string, sub: SubcommandDecl): string[] {
  const { args, options } = rows(sub)
  if (!sub.description && !args.length && !options.length) return []
  return [
    '',
    ...usage('', `${PROGRAM} ${decl.name} ${name}`, sub),
    ...(sub.description ? wrap(sub.description, WIDTH - 2).map((l) => `  ${l}`) : []),
    ...(args.length || options.length ? columns([...args, ...options]) : []),
  ]
}

// The whole --help of a command, or of the subcommand named.
export function commandHelp(decl: CommandDecl, subcommand?: string): string {
  if (subcommand !== undefined) {
    const sub = decl.subcommands![subcommand]
    return [
      ...usage('Usage: ', `${PROGRAM} ${decl.name} ${subcommand}`, sub),
      '',
      sub.summary,
      ...(sub.description ? ['', sub.description] : []),
      ...sections(sub, 'show this help'),
    ].join('\n')
  }
  const subs = Object.entries(decl.subcommands ?? {})
  const alone = !needsSubcommand(decl)
  const lines = alone
    ? usage('Usage: ', `${PROGRAM} ${decl.name}`, decl)
    : [`Usage: ${PROGRAM} ${decl.name} <${subs.map(([name]) => name).join('|')}> [options]`]
  // A command that also runs on its own lists its subcommands' usage under its own.
  if (alone) for (const [name, sub] of subs) lines.push(...usage('       ', `${PROGRAM} ${decl.name} ${name}`, sub))
  lines.push('', decl.description ?? decl.summary)
  if (alone) lines.push(...sections(decl, 'show this help'))
  if (subs.length) {
    lines.push('', 'Commands:', ...columns(subs.map(([name, sub]) => [name, sub.summary])))
    for (const [name, sub] of subs) lines.push(...subcommandBlock(decl, name, sub))
  }
  if (!alone)
    lines.push('', 'Options:', ...columns([['-h, --help', `show this help; after a command, that command's`]]))
  if (decl.notes) lines.push('', decl.notes)
  return lines.join('\n')
}

// The top-level help: every visible command with its summary, then the global flags.
export function programHelp(decls: readonly CommandDecl[], globals: readonly Row[]): string {
  return [
    `Usage: ${PROGRAM} <command> [options] [--home DIR]`,
    '',
    'Commands:',
    ...columns(decls.filter((d) => !d.hidden).map((d) => [d.name, d.summary])),
    '',
    'Global options:',
    ...columns([...globals]),
    '',
    `"${PROGRAM} <command> --help" shows a command's arguments and options.`,
  ].join('\n')
}

export function unknownCommand(name: string, decls: readonly CommandDecl[], help: string) {
  const names = decls.filter((d) => !d.hidden).map((d) => d.name)
  return usageError(`unknown command "${name}"${didYouMean(name, names)}\n\n${help}`)
}
