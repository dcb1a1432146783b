import type { Socket } from 'node:net'

/**
 * The raw sockets of one node: for byte counters, and to end connections that never
 * became MQTT clients (no CONNECT yet) when the node shuts down.
 */
export class Connections {
  readonly #open = new Set<Socket>()
  #closedReceived = 0
  #closedSent = 0

  add (socket: Socket): void {
    socket.setNoDelay(true)
    this.#open.add(socket)
    socket.once('close', () => {
      this.#open.delete(socket)
      this.#closedReceived += socket.bytesRead
      this.#closedSent += socket.bytesWritten
    })
  }

  get size (): number {
    return this.#open.size
  }

  bytes (): { received: number, sent: number } {
    let received = this.#closedReceived
    let sent = this.#closedSent
    for (const s of this.#open) {
      received += s.bytesRead
      sent += s.bytesWritten
    }
    return { received, sent }
  }

  destroyAll (): void {
    for (const s of this.#open) s.destroy()
  }
}
