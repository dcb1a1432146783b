/** A packet that breaks the protocol: the connection that sent it is closed. */
export class ProtocolViolation extends Error {
  /** The packet type being parsed when the violation was found. */
  readonly cmd: string | undefined

  constructor (message: string, cmd: string | undefined) {
    super(message)
    this.name = 'ProtocolViolation'
    this.cmd = cmd
  }
}
