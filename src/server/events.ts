// The server's live events, in memory: every state change and progress report gets an id and goes to
// every connected GET /api/events stream; the last RING_SIZE are kept so a client that reconnects
// with Last-Event-ID gets what it missed (or a `reset` when that is older than the ring).
import type { EventMap, EventName } from "./api-types.js";

export const RING_SIZE = 1_000;

export interface LiveEvent {
  id: number;
  name: EventName;
  data: unknown;
}

type Listener = (event: LiveEvent) => void;

export class EventBus {
  private readonly ring: LiveEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private nextId = 1;
  /** Ids are unique per server process: a restarted server starts a new series (epoch in the id). */
  readonly epoch = Date.now().toString(36);

  publish<N extends EventName>(name: N, data: EventMap[N]): LiveEvent {
    const event: LiveEvent = { id: this.nextId++, name, data };
    this.ring.push(event);
    if (this.ring.length > RING_SIZE) this.ring.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** The events after `lastId`, or null when some of them are no longer kept. */
  since(lastId: number): LiveEvent[] | null {
    const first = this.ring[0];
    if (lastId >= this.nextId - 1) return [];
    if (first === undefined || lastId < first.id - 1) return null;
    return this.ring.filter((e) => e.id > lastId);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The id of the newest event (0 before the first). */
  get lastId(): number {
    return this.nextId - 1;
  }

  get connections(): number {
    return this.listeners.size;
  }
}
