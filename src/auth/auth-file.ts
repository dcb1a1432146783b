/**
 * The auth file (setting `auth.file`): users with password hashes and ACL rules, JSON.
 *
 *   {
 *     "users": { "alice": "scrypt$16384$8$1$<salt>$<hash>" },
 *     "acl": [
 *       { "user": "alice", "action": "all", "topic": "home/alice/#" },
 *       { "permission": "deny", "action": "subscribe", "topic": "test/nosubscribe" }
 *     ]
 *   }
 *
 * Reading validates everything and lists every problem; `slotmq users` edits the users
 * object and leaves the rest of the file as it was (written to a temporary file, then
 * renamed, so a broker reloading it never reads half a file).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { z } from 'zod'
import { BrokerError, ERR } from '../errors.js'
import { filterProblem, type AclRule } from './acl.js'
import { passwordHashProblem } from './password.js'

export interface AuthFileData {
  /** user name -> password hash */
  users: ReadonlyMap<string, string>
  rules: readonly AclRule[]
}

const userName = z.string().min(1, 'empty user name').max(256)
const rule = z.strictObject({
  permission: z.enum(['allow', 'deny']).default('allow'),
  action: z.enum(['publish', 'subscribe', 'all']),
  topic: z.string().superRefine((topic, ctx) => {
    const problem = filterProblem(topic)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  }),
  user: userName.optional(),
  clientId: z.string().min(1).optional(),
  anonymous: z.literal(true).optional()
}).refine(r => [r.user, r.clientId, r.anonymous].filter(v => v !== undefined).length <= 1,
  'a rule names at most one of user, clientId, anonymous (none: every client)')
const hash = z.string().superRefine((stored, ctx) => {
  const problem = passwordHashProblem(stored)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})
const fileSchema = z.strictObject({
  users: z.record(userName, hash).default({}),
  acl: z.array(rule).default([])
})

/** Validates parsed JSON as an auth file; throws ERR_AUTH_FILE listing every problem. */
export function parseAuthFile (json: unknown, where: string): AuthFileData {
  const result = fileSchema.safeParse(json)
  if (!result.success) {
    const problems = result.error.issues.map(i => `${i.path.map(p => typeof p === 'number' ? `[${p}]` : `.${String(p)}`).join('').replace(/^\./, '') || '(file)'}: ${i.message}`)
    throw new BrokerError(ERR.AUTH_FILE, `auth file ${where} is invalid`, { problems })
  }
  return { users: new Map(Object.entries(result.data.users)), rules: result.data.acl }
}

export async function readAuthFile (path: string): Promise<AuthFileData> {
  return parseAuthFile(await readJson(path), path)
}

/**
 * Changes the users of an auth file (created when missing) and writes it back; the file
 * must be valid before and after. Returns what `change` returned.
 */
export async function editAuthFileUsers<T> (path: string, change: (users: Record<string, string>) => T): Promise<T> {
  let json: Record<string, unknown>
  try {
    json = await readJson(path) as Record<string, unknown>
  } catch (err) {
    if (!(err instanceof BrokerError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')) throw err
    json = {}
  }
  parseAuthFile(json, path)
  const users = { ...(json.users as Record<string, string> | undefined) }
  const outcome = change(users)
  const next = { ...json, users }
  parseAuthFile(next, path)
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 })
  await rename(temporary, path)
  return outcome
}

async function readJson (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new BrokerError(ERR.AUTH_FILE, `cannot read auth file ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new BrokerError(ERR.AUTH_FILE, `auth file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}
