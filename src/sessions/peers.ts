/**
 * The sessions layer's records on the peer bus, and the links it gives its parts: a kick
 * to the previous owner of a session taken over, a message handed to a session's new
 * owner, an adoption and its confirmation.
 */
import type { Logger } from '../logger.js'
import type { Message } from '../routing/emitter.js'
import type { PeerBus } from '../routing/peer-bus.js'
import type { RedisPersistence } from './persistence.js'
import type { HeldRoutes, Packet, SessionLinks } from './types.js'

/** What the sessions need from routing besides the bus. */
export interface RoutingSide extends HeldRoutes {
  memberId: () => string
  journal: (memberId: string) => AsyncIterable<{ message: Message, clientId?: string, origin: { sender: string, seq: number } }>
  dropJournal: (memberId: string) => Promise<void>
}

/** The links the sessions layer sends through (built before the persistence exists). */
export function sessionLinks (bus: PeerBus, routing: RoutingSide): SessionLinks {
  return {
    memberId: routing.memberId,
    hold: routing.hold,
    release: routing.release,
    kick: (owner, clientId, epoch) => bus.send(owner, { kind: 'kick', clientId, epoch }),
    forward: (owner, clientId, packet) => bus.send(owner, { kind: 'direct', clientId, message: packet as unknown as Message }),
    adopt: (owner, clientId, epoch) => bus.send(owner, { kind: 'adopt', clientId, epoch }),
    journal: routing.journal as (memberId: string) => AsyncIterable<{ message: Packet, clientId?: string, origin: { sender: string, seq: number } }>,
    dropJournal: routing.dropJournal
  }
}

/** Registers what each of the sessions layer's record kinds does on this node. */
export function handlePeerRecords (bus: PeerBus, sessions: RedisPersistence, log: Logger): void {
  bus.on('kick', async (r, sender) => {
    await sessions.kicked(r.clientId, r.epoch, sender).catch((err: unknown) => log.warn({ clientId: r.clientId, err }, 'taken-over session not handed over'))
  })
  bus.on('direct', async (r) => { await sessions.deliverDirect(r.clientId, r.message as unknown as Packet) })
  bus.on('adopt', (r, sender) => {
    sessions.adopted(r.clientId, r.epoch)
      .then(() => bus.send(sender, { kind: 'adopted', clientId: r.clientId, epoch: r.epoch }), (err: unknown) => log.warn({ clientId: r.clientId, err }, 'adopted session not loaded'))
  })
  bus.on('adopted', (r, sender) => { sessions.adoptionConfirmed(r.clientId, sender) })
}
