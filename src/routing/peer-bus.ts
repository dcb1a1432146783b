/**
 * The typed peer bus: records one member sends another about one client id. Routing
 * carries them in the sender's frames to the member's inbox, in order with its publishes
 * (a `direct` record's QoS 1/2 message is journaled with its frame, like a publish), and
 * calls the handler the layer above registered for the kind; routing gives them no
 * meaning of its own.
 */
import type { FrameWriter, PublishRecord } from './frames.js'
import type { Message } from './emitter.js'

export type PeerRecord =
  /** The sender took the client id's session over with `epoch`. */
  | { kind: 'kick', clientId: string, epoch: string }
  /** A QoS 1/2 message for the client id's session, which the receiver owns. */
  | { kind: 'direct', clientId: string, message: Message }
  /** The receiver now owns the client id's parked session, with `epoch`. */
  | { kind: 'adopt', clientId: string, epoch: string }
  /** The sender loaded the session it was given and holds its routes. */
  | { kind: 'adopted', clientId: string, epoch: string }

export type PeerKind = PeerRecord['kind']
export type PeerRecordOf<K extends PeerKind> = Extract<PeerRecord, { kind: K }>
export type PeerHandler<K extends PeerKind> = (record: PeerRecordOf<K>, sender: string) => void | Promise<void>

type Enqueue = (member: string, write: (w: FrameWriter) => void) => void
type ToRecord = (message: Message) => Omit<PublishRecord, 'kind'>

export class PeerBus {
  readonly #enqueue: Enqueue
  readonly #toRecord: ToRecord
  readonly #handlers = new Map<PeerKind, (record: PeerRecord, sender: string) => void | Promise<void>>()

  constructor (enqueue: Enqueue, toRecord: ToRecord) {
    this.#enqueue = enqueue
    this.#toRecord = toRecord
  }

  /** Sends `record` to `member`, in order with this node's other frames to it. */
  send (member: string, record: PeerRecord): void {
    switch (record.kind) {
      case 'kick': this.#enqueue(member, w => w.kick(record.clientId, record.epoch)); break
      case 'adopt': this.#enqueue(member, w => w.adopt(record.clientId, record.epoch)); break
      case 'adopted': this.#enqueue(member, w => w.adopted(record.clientId, record.epoch)); break
      case 'direct': {
        const publish = this.#toRecord(record.message)
        this.#enqueue(member, w => w.direct(record.clientId, publish))
        break
      }
    }
  }

  /** Registers the handler of one kind (one per kind: a second replaces the first). */
  on<K extends PeerKind>(kind: K, handler: PeerHandler<K>): void {
    this.#handlers.set(kind, handler as (record: PeerRecord, sender: string) => void | Promise<void>)
  }

  /** A record arrived from `sender`; nothing happens for a kind nobody handles. */
  dispatch (record: PeerRecord, sender: string): void | Promise<void> {
    return this.#handlers.get(record.kind)?.(record, sender)
  }
}
