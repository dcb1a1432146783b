/**
 * The will of a connection that the server closes because the same client id connected
 * again [MQTT-3.1.4-2]. MQTT 3.1.1 does not single this case out; slotmq follows Mosquitto
 * 2.0 (src/handle_connect.c): the will is published when either connection has clean
 * session 1, and dropped when both have clean session 0, because the session then goes on
 * with the new connection (as MQTT 5 does when a client reconnects within its will delay).
 * Every node applies it, to a takeover on the same node (src/aedes/register-guard.ts) and
 * to one from another node (src/sessions/ownership.ts, when the kick arrives).
 *
 * @param previousClean clean session flag of the connection being closed
 * @param nextClean clean session flag of the connection that took the client id over
 * @returns whether the closed connection's will is published
 */
export function publishWillOnTakeover (previousClean: boolean, nextClean: boolean): boolean {
  return previousClean || nextClean
}
