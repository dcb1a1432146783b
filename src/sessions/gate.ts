/**
 * The delivery gate of persistent connections: each message goes out to a connection
 * once, and a resumed session's queue goes out before anything live.
 *
 * A connection of a persistent session replays its queue first (`replaying`); live
 * copies of queued messages are held back meanwhile, since the replay sends them in
 * their place. When the replay's reads find nothing newer, live delivery starts
 * (`replayed`) and one more read catches what was queued in between, skipping what went
 * out live during it.
 */
import { refOf, type ClientLike, type Packet } from './types.js'

/** Message refs remembered per connection to drop duplicate sends during a move. */
const SENT_MEMORY = 10_000

export class DeliveryGate {
  /** Whether a connection opened a session here (only those replay a queue). */
  readonly #opened: (client: object) => boolean
  /** Message refs each connection has been sent (live or replayed), to send each once. */
  readonly #sent = new WeakMap<object, Set<string>>()
  /** Connections that have replayed their queue (until then, handed-over messages wait in it). */
  readonly #replayed = new WeakSet<object>()
  /**
   * Connections between the end of their replay and its last read: refs sent live meanwhile,
   * which that read must not send again.
   */
  readonly #liveDuringLastRead = new WeakMap<object, Set<string>>()
  /** Messages handed over for one session and given to its connection (see `admit`). */
  readonly #handedOver = new WeakSet<object>()

  constructor (opened: (client: object) => boolean) {
    this.#opened = opened
  }

  /**
   * Called by the connection's delivery function for each QoS 1/2 message about to be
   * written to it (after the in-flight window let it through); false holds it back:
   * - it was already sent to this connection from the queue or by the previous owner's
   *   hand-over (while a session moves, one message can arrive by more than one of these
   *   ways, and is sent once; live copies are not remembered, so overlapping
   *   subscriptions still get one copy each);
   * - the connection's queue replay has not ended: the message is queued already, and the
   *   replay sends it in its place, so messages queued earlier are not overtaken
   *   (ordered topics, [MQTT-4.6.0-6]).
   * A message handed over (`deliverDirect`) is remembered as sent here, when it really
   * goes out: a window that held it must not find it "already sent" when it lets it go.
   */
  admit (client: ClientLike, packet: Packet): boolean {
    if (packet.brokerId === undefined || packet.brokerId === null) return true
    if (this.#sent.get(client)?.has(refOf(packet)) === true) return false
    if (client.clean === false && this.#opened(client)) {
      if (!this.#replayed.has(client)) return false
      this.#liveDuringLastRead.get(client)?.add(refOf(packet))
    }
    if (this.#handedOver.has(packet)) this.markSent(client, packet)
    return true
  }

  markSent (client: object, packet: Packet): void {
    let sent = this.#sent.get(client)
    if (sent === undefined) this.#sent.set(client, sent = new Set())
    if (sent.size >= SENT_MEMORY) sent.clear()
    sent.add(refOf(packet))
  }

  /** Whether live delivery to `client` has started (its replay found nothing newer). */
  replayed (client: object): boolean {
    return this.#replayed.has(client)
  }

  /** Live delivery starts now; the replay's last read follows, and skips what goes out live meanwhile. */
  startLive (client: object): void {
    this.#replayed.add(client)
    this.#liveDuringLastRead.set(client, new Set())
  }

  /** Whether `packet` went out live to `client` during its replay's last read. */
  sentLiveDuringLastRead (client: object, packet: Packet): boolean {
    return this.#liveDuringLastRead.get(client)?.has(refOf(packet)) === true
  }

  /** The replay of `client` ended (or stopped): everything is live from now on. */
  endReplay (client: object): void {
    this.#replayed.add(client)
    this.#liveDuringLastRead.delete(client)
  }

  /** `packet` was handed over by the session's previous owner (see `admit`). */
  handedOver (packet: object): void {
    this.#handedOver.add(packet)
  }
}
