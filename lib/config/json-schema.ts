// The config's JSON Schema (draft-07, for editors and other tools), generated from the rule tables the
// shape check uses, so the two cannot drift: a key added to a table appears here with its description.
import { expectation } from './schema.ts'
import { serverSchema, topSchema, type Rule, type Schema } from './rules.ts'

export type JsonSchema = Record<string, unknown>

export const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#'

// A value that is one ${VAR} and nothing else reads as YAML would once replaced, so it may stand for a number.
const VARIABLE = { type: 'string', pattern: '^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:?-[^}]*)?\\}$' }
const NAME = { type: 'string', minLength: 1 }
const NON_BLANK = { type: 'string', pattern: '\\S' }
// As parseSize (size.ts) reads it: bytes, or a number with a K, M or G suffix.
const SIZE = '^\\s*\\d+(\\.\\d+)?\\s*([KMGkmg])?([iI]?[bB])?\\s*$'

const orVariable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, VARIABLE] })

// The value's own shape, as the shape check accepts it (schema.ts `wrong`).
function valueSchema(rule: Rule): JsonSchema {
  switch (rule.kind) {
    case 'string':
      return { type: 'string', minLength: 1 }
    case 'int':
      return orVariable({ type: 'integer', minimum: rule.min, maximum: rule.max })
    case 'number':
      return orVariable({ type: 'number', minimum: rule.min, maximum: rule.max })
    case 'enum':
      return orVariable({ type: 'string', enum: rule.values })
    case 'list':
      return { type: 'array', items: NAME }
    case 'bool':
      return orVariable({ type: 'boolean' })
    case 'map':
      return { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } }
    case 'command':
      return { anyOf: [NON_BLANK, { type: 'array', minItems: 1, items: { anyOf: [NAME, { type: 'number' }] } }] }
    case 'object':
      return objectSchema(rule.schema)
    case 'servers':
      return { type: 'array', minItems: 1, items: objectSchema(serverSchema) }
    case 'paths':
      return { anyOf: [NAME, { type: 'array', items: NAME }] }
    case 'list-or-object':
      return { anyOf: [{ type: 'array', items: NAME }, objectSchema(rule.schema)] }
    case 'commands':
      return { type: 'array', items: NON_BLANK }
    case 'stringOrObject':
      return { anyOf: [{ type: 'string', minLength: 1 }, objectSchema(rule.schema)] }
    case 'size':
      return {
        anyOf: [
          { type: 'integer', minimum: 1 },
          { type: 'string', pattern: SIZE },
        ],
      }
    default: {
      // A new kind of rule must say its JSON Schema here: tsc stops at this line until it does.
      const unhandled: never = rule
      throw new Error(`no JSON Schema for rule ${JSON.stringify(unhandled)}`)
    }
  }
}

// `key:` with no value means the default, as if left out: an optional key also takes null.
function withNull(schema: JsonSchema): JsonSchema {
  return { anyOf: [...((schema.anyOf as JsonSchema[] | undefined) ?? [schema]), { type: 'null' }] }
}

export function ruleSchema(rule: Rule): JsonSchema {
  const value = valueSchema(rule)
  const expected = `Expected: ${expectation(rule)}.`
  const description = rule.description ? `${rule.description}. ${expected}` : expected
  return { description, ...(rule.required ? value : withNull(value)) }
}

function objectSchema(schema: Schema): JsonSchema {
  const required = Object.entries(schema).flatMap(([key, rule]) => (rule.required ? [key] : []))
  return {
    type: 'object',
    properties: Object.fromEntries(Object.entries(schema).map(([key, rule]) => [key, ruleSchema(rule)])),
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  }
}

// The whole config file's schema; pure, so the shipped file can be compared with it.
export function configJsonSchema(): JsonSchema {
  return {
    $schema: JSON_SCHEMA_DRAFT,
    title: 'backend-manager config',
    description: 'The servers to run behind a generated proxy (dev-config.yaml).',
    ...objectSchema(topSchema),
  }
}

// The text of schema/backend-manager.schema.json.
export const configJsonSchemaText = (): string => JSON.stringify(configJsonSchema(), null, 2) + '\n'
