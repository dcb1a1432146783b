/**
 * Acknowledgements of the right type. A QoS 1 PUBLISH sent to a client is acknowledged
 * with PUBACK [MQTT-4.3.2-2]; a QoS 2 PUBLISH with PUBREC, and the PUBREL that follows
 * with PUBCOMP [MQTT-4.3.3-2]. aedes 1.2.0 takes any of them for any message: a PUBCOMP
 * for a QoS 1 message cleared it, a PUBACK for a QoS 2 message too. Such a client breaks
 * the protocol, and its connection is closed, as Mosquitto does.
 *
 * What each packet identifier waits for is noted as the PUBLISH or PUBREL is written
 * (write-hook.ts). An acknowledgement for an identifier with nothing outstanding on this
 * connection (sent before a reconnect, or twice) is left to aedes, which ignores it; a
 * PUBREC repeated after the PUBREL went out is answered with the PUBREL again.
 */
type Expected = 'puback' | 'pubrec' | 'pubcomp'

export class ExpectedAcks {
  readonly #byClient = new WeakMap<object, Map<number, Expected>>()

  /** A QoS 1/2 PUBLISH was written to `client`. */
  publishSent (client: object, qos: number, messageId: number | undefined): void {
    if (qos > 0 && messageId !== undefined) this.#expect(client, messageId, qos === 1 ? 'puback' : 'pubrec')
  }

  /** A PUBREL was written to `client`. */
  pubrelSent (client: object, messageId: number | undefined): void {
    if (messageId !== undefined) this.#expect(client, messageId, 'pubcomp')
  }

  /**
   * Checks an acknowledgement `client` sent; returns the violation, if it is one. A
   * PUBACK or PUBCOMP that is right ends what the identifier waited for.
   */
  received (client: object, cmd: string, messageId: number): string | undefined {
    const waiting = this.#byClient.get(client)
    const expected = waiting?.get(messageId)
    if (expected === undefined || cmd === 'pubrel') return undefined
    if (cmd === expected || (cmd === 'pubrec' && expected === 'pubcomp')) {
      if (cmd !== 'pubrec') waiting?.delete(messageId)
      return undefined
    }
    const sent = expected === 'puback' ? 'a QoS 1 PUBLISH' : expected === 'pubrec' ? 'a QoS 2 PUBLISH' : 'a PUBREL'
    return `${cmd.toUpperCase()} for ${sent} (packet identifier ${messageId}) [MQTT-4.3.2-2] [MQTT-4.3.3-2]`
  }

  #expect (client: object, messageId: number, what: Expected): void {
    let waiting = this.#byClient.get(client)
    if (waiting === undefined) this.#byClient.set(client, waiting = new Map())
    waiting.set(messageId, what)
  }
}
