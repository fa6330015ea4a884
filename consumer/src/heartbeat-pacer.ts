/** Records between two heartbeats of a long batch (a storm of bad records, say). */
const HEARTBEAT_EVERY = 5000;
/**
 * ...or this many milliseconds, whichever comes first: records that each wait on the
 * registry (a storm of unknown ids) take milliseconds apiece, and the session must not
 * expire meanwhile (kafkajs throttles heartbeats to its own interval).
 */
const HEARTBEAT_EVERY_MS = 1000;

export interface HeartbeatPacer {
  /**
   * Called once per record of a batch; true when the member should heartbeat now (and send
   * the dead letters gathered so far): every 5,000 records, or every second while records
   * wait on the registry (`awaited`).
   */
  due(awaited: boolean): boolean;
}

/** Paces the heartbeats of one batch; `now` gives epoch milliseconds. */
export function createHeartbeatPacer(now: () => number): HeartbeatPacer {
  let sinceHeartbeat = 0;
  let heartbeatAt = now();
  return {
    due(awaited) {
      sinceHeartbeat += 1;
      if (
        sinceHeartbeat < HEARTBEAT_EVERY &&
        !(awaited && now() - heartbeatAt >= HEARTBEAT_EVERY_MS)
      ) {
        return false;
      }
      sinceHeartbeat = 0;
      heartbeatAt = now();
      return true;
    },
  };
}
