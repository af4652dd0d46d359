import { EventEmitter } from 'node:events';

/** One event as the Engine API reports it (with the deprecated status/id/from fields Docker still sends). */
export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
}

/**
 * The daemon's event stream. Services publish; /events subscribers receive live events. A bounded
 * in-memory history (as dockerd keeps) lets `since` replay recent events; older ones are gone.
 */
export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly emitter = new EventEmitter();

  constructor(private readonly keep = 1024) {
    this.emitter.setMaxListeners(0);
  }

  publish(type: string, action: string, actorId: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: actorId, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      // Docker fills these legacy fields for container and image events only.
      event.status = action;
      event.id = actorId;
      if (type === 'container' && attributes.image) event.from = attributes.image;
    }
    this.history.push(event);
    if (this.history.length > this.keep) this.history.shift();
    this.emitter.emit('event', event);
    return event;
  }

  /** Events recorded at or after `sinceNs` (nanoseconds), oldest first. */
  recent(sinceNs: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= sinceNs);
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  get listenerCount(): number {
    return this.emitter.listenerCount('event');
  }
}
