// A command as data: its name, summary, arguments, flags and help, declared once; parsing reads the declaration.
import { parseArgs } from 'node:util'
import { usageError } from '../core/errors.ts'
import type { Context } from './context.ts'

export interface FlagDecl {
  type: 'boolean' | 'string'
  short?: string
  // What the value is called in the help ("FILE", "N", "a,b"); a list of choices names them.
  value?: string
  description: string
  default?: string
  choices?: readonly string[]
  required?: boolean
}

export interface ArgDecl {
  name: string
  description: string
  // The last argument may take every remaining word (NAME [NAME ...]).
  many?: boolean
}

export type Flags = Readonly<Record<string, FlagDecl>>

export interface SubcommandDecl {
  summary: string
  description?: string
  args?: readonly ArgDecl[]
  flags?: Flags
  // Words after "--" are passed on untouched (a command to run).
  rest?: ArgDecl
}

export interface CommandDecl extends SubcommandDecl {
  name: string
  // Extra help (notes, examples) printed after the options.
  notes?: string
  subcommands?: Readonly<Record<string, SubcommandDecl>>
  // Internal commands are left out of the command list.
  hidden?: boolean
}

type ValueOf<D> = D extends { type: 'boolean' } ? boolean : D extends { choices: readonly (infer C)[] } ? C : string
// A flag with a default or required always has a value; any other only when given.
type Sure = { default: string } | { required: true }
type ValuesOf<F> = { -readonly [K in keyof F as F[K] extends Sure ? K : never]: ValueOf<F[K]> } & {
  -readonly [K in keyof F as F[K] extends Sure ? never : K]?: ValueOf<F[K]>
}
type SubValues<S> =
  S extends Readonly<Record<string, SubcommandDecl>> ? { [K in keyof S]: ValuesOf<S[K]['flags']> }[keyof S] : never
type Merged<U> = (U extends unknown ? (u: U) => void : never) extends (m: infer M) => void ? M : never

// What run gets: the flag values (every subcommand's flags, each set only when given or defaulted), the
// positional arguments, the words after "--" and the subcommand chosen.
export interface Parsed<C extends CommandDecl = CommandDecl> {
  subcommand?: C['subcommands'] extends Readonly<Record<string, SubcommandDecl>>
    ? keyof C['subcommands'] & string
    : never
  values: ValuesOf<C['flags']> & Partial<Merged<SubValues<C['subcommands']>>>
  positionals: string[]
  rest: string[]
  // -h given among other short flags (-fh): the help is shown instead of running.
  help?: boolean
}

export type Run<C extends CommandDecl> = (parsed: Parsed<C>, ctx: Context) => Promise<number | void>

// The identity, as citty's defineCommand: it keeps the literal types the parsed values are typed from.
export function defineCommand<const C extends CommandDecl>(decl: C): C {
  return decl
}

// A command the entry point knows: its declaration (a small module) and its run module (loaded only to run it).
export interface CommandEntry {
  decl: () => Promise<CommandDecl>
  load: () => Promise<{ run: Run<CommandDecl> }>
}

type Loaders = Record<string, { decl: () => Promise<{ default: CommandDecl }>; load: () => Promise<unknown> }>
// Each entry's run module must take what its declaration parses.
type Matched<T extends Loaders> = {
  [K in keyof T]: {
    decl: T[K]['decl']
    load: () => Promise<{ run: Run<Awaited<ReturnType<T[K]['decl']>>['default']> }>
  }
}

export function commandTable<T extends Loaders>(table: T & Matched<T>): Record<string, CommandEntry> {
  return Object.fromEntries(
    Object.entries(table).map(([name, { decl, load }]) => [
      name,
      { decl: async () => (await decl()).default, load: load as CommandEntry['load'] },
    ]),
  )
}

// A command whose only arguments are its subcommands cannot run without one.
export const needsSubcommand = (decl: CommandDecl) => Boolean(decl.subcommands) && !decl.args && !decl.flags

const flagList = (flags: Flags = {}) =>
  Object.entries(flags)
    .map(([name, flag]) => (flag.short ? `--${name} (-${flag.short})` : `--${name}`))
    .join(', ')

// The subcommand the words name, if any: the first word, when it is one of them.
export function chosenSubcommand(decl: CommandDecl, args: readonly string[]): string | undefined {
  const first = args[0]
  return first !== undefined && decl.subcommands && Object.hasOwn(decl.subcommands, first) ? first : undefined
}

// --help or -h before any "--".
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

export function parseCommand<C extends CommandDecl>(decl: C, args: readonly string[]): Parsed<C> {
  const subcommand = chosenSubcommand(decl, args)
  if (subcommand === undefined && needsSubcommand(decl)) {
    const names = Object.keys(decl.subcommands!).join(', ')
    throw usageError(`${decl.name}: expected one of ${names}${args[0] === undefined ? '' : `, got "${args[0]}"`}`)
  }
  const spec: SubcommandDecl = subcommand === undefined ? decl : decl.subcommands![subcommand]
  const command = subcommand === undefined ? decl.name : `${decl.name} ${subcommand}`
  const words = subcommand === undefined ? [...args] : args.slice(1)
  const dash = spec.rest ? words.indexOf('--') : -1
  const { values, positionals } = parseWords(command, spec, dash < 0 ? words : words.slice(0, dash))
  const { help, ...given } = values
  return {
    subcommand,
    values: given,
    positionals,
    rest: dash < 0 ? [] : words.slice(dash + 1),
    help: Boolean(help),
  } as Parsed<C>
}

function parseWords(command: string, spec: SubcommandDecl, words: string[]) {
  const flags = spec.flags ?? {}
  const see = `see "backend-manager ${command} --help"`
  let parsed
  try {
    parsed = parseArgs({
      args: words,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(
          Object.entries(flags).map(([name, f]) => [
            name,
            {
              type: f.type,
              ...(f.short && { short: f.short }),
              ...(f.default !== undefined && { default: f.default }),
            },
          ]),
        ),
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    if (!(error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw error
    const detail = (error as Error).message.split('.')[0].replace(/^Unknown option/, 'unknown flag')
    throw usageError(`${command}: ${detail}; expected ${flagList(flags) || 'no flags'} (${see})`)
  }
  if (parsed.values.help) return parsed
  const allowed = spec.args?.at(-1)?.many ? Infinity : (spec.args?.length ?? 0)
  if (parsed.positionals.length > allowed)
    throw usageError(`${command}: unexpected argument "${parsed.positionals[allowed]}"; ${see}`)
  for (const [name, flag] of Object.entries(flags)) {
    const value = (parsed.values as Record<string, unknown>)[name]
    if (flag.required && value === undefined) throw usageError(`${command}: --${name} is required (${see})`)
    if (flag.choices && typeof value === 'string' && !flag.choices.includes(value))
      throw usageError(`--${name}: expected one of ${flag.choices.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return parsed
}
