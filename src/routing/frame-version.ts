/**
 * Which inbox frame version a node writes: the newest while every peer (the live members,
 * and peers missing but not yet dropped) announced with its lease that it reads it, the
 * legacy one otherwise. Not the receiver's alone: a frame journaled for a member is read by
 * whichever member reaps it. A peer met before a beat listed it counts as legacy until one
 * does. Every version is read, whichever is written.
 */
import type { Logger } from '../logger.js'
import { FRAME_VERSION, LEGACY_FRAME_VERSION, type FrameVersion } from './frames.js'

export class FrameVersionChoice {
  #version: FrameVersion = FRAME_VERSION
  /** A peer of a release that reads legacy frames only was live since the last newest version. */
  #olderPeers = false
  readonly #log: Logger

  constructor (log: Logger) {
    this.#log = log
  }

  /** The version to write now. */
  get version (): FrameVersion { return this.#version }

  /** Chooses again after the peers or their announced versions (member id to version) changed. */
  update (peers: Iterable<string>, announced: ReadonlyMap<string, number>): void {
    const legacy = [...peers].filter(p => (announced.get(p) ?? LEGACY_FRAME_VERSION) < FRAME_VERSION)
    // Peers a beat listed with an older version; the others joined since (not news).
    const older = legacy.filter(p => announced.has(p))
    if (older.length > 0 && !this.#olderPeers) {
      this.#olderPeers = true
      this.#log.info({ peers: older }, 'a peer reads only legacy inbox frames: frames to peers carry no publish times')
    }
    const version = legacy.length === 0 ? FRAME_VERSION : LEGACY_FRAME_VERSION
    if (version === this.#version) return
    this.#version = version
    if (version === LEGACY_FRAME_VERSION) {
      this.#log.debug({ peers: legacy }, 'legacy inbox frames until every peer announced its frame version')
    } else {
      this.#log[this.#olderPeers ? 'info' : 'debug']({ version }, 'every peer reads the newest inbox frames: publish times go to peers')
      this.#olderPeers = false
    }
  }
}
