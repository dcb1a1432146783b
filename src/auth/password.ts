/**
 * Password hashes: scrypt from node:crypto, stored as `scrypt$N$r$p$<salt>$<hash>` (salt
 * and hash in base64). The cost parameters travel with each hash, so raising them later
 * leaves old hashes readable. Comparison is constant-time (timingSafeEqual).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** Node's default scrypt cost: 16 MiB and some tens of ms per check, off the event loop. */
export const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1 } as const
const SALT_BYTES = 16
const KEY_BYTES = 32
/** A stored hash may not ask for more than this (a bad file must not exhaust memory). */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/

interface ParsedHash { N: number, r: number, p: number, salt: Buffer, key: Buffer }

/** Hashes a password with a fresh random salt. */
export async function hashPassword (password: string, cost: { N: number, r: number, p: number } = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, KEY_BYTES, cost)
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/**
 * Why a stored hash cannot be used, or undefined when it can: checked when an auth file
 * or Redis entry is loaded, so a typo is reported once instead of failing every connect.
 */
export function passwordHashProblem (stored: string): string | undefined {
  const parsed = parse(stored)
  if (parsed === undefined) return 'expected scrypt$N$r$p$<salt base64>$<hash base64> (slotmq users add writes it)'
  const { N, r, p } = parsed
  if (N < 2 || (N & (N - 1)) !== 0) return 'scrypt N must be a power of two'
  if (r < 1 || p < 1 || p > 16) return 'scrypt r must be >= 1 and p between 1 and 16'
  if (128 * N * r > MAX_MEMORY_BYTES) return `scrypt N x r asks for more than ${MAX_MEMORY_BYTES} bytes`
  if (parsed.key.length < 16) return 'hash shorter than 16 bytes'
  return undefined
}

/**
 * True when `password` (a string, or the bytes MQTT carried) matches `stored`; false for a
 * wrong password or an unusable hash.
 */
export async function verifyPassword (password: string | Buffer, stored: string): Promise<boolean> {
  const parsed = parse(stored)
  if (parsed === undefined || passwordHashProblem(stored) !== undefined) return false
  const key = await derive(password, parsed.salt, parsed.key.length, parsed)
  return timingSafeEqual(key, parsed.key)
}

function parse (stored: string): ParsedHash | undefined {
  const m = FORMAT.exec(stored)
  if (m === null) return undefined
  return { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), salt: Buffer.from(m[4] ?? '', 'base64'), key: Buffer.from(m[5] ?? '', 'base64') }
}

async function derive (password: string | Buffer, salt: Buffer, length: number, cost: { N: number, r: number, p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 2 * 128 * cost.N * cost.r + 1024 * 1024 }
  return await new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (err, key) => { if (err === null) resolve(key); else reject(err) })
  })
}
