import type { Logger } from '@p2pwall/common';
import type { NotificationsConfig } from './config.js';
import type { NotificationEvent, NotificationKind } from './events.js';
import { NotificationSink, type SinkEnvironment } from './sink.js';

/** Where the brain's code hands its events (ingest, incidents, the API): one call, never waits, never throws. */
export interface Notifier {
  notify(event: NotificationEvent): void;
}

/** The configured sinks behind one Notifier; with none configured, notify does nothing. */
export class Notifications implements Notifier {
  readonly sinks: NotificationSink[];
  private readonly log: Logger;

  constructor(config: NotificationsConfig, env: SinkEnvironment) {
    this.sinks = config.sinks.map((sink) => new NotificationSink(sink, env));
    this.log = env.log;
  }

  /** Whether any sink wants events of this kind (what nobody wants is not even worked out). */
  wants(kind: NotificationKind): boolean {
    return this.sinks.some((sink) => sink.wants(kind));
  }

  notify(event: NotificationEvent): void {
    for (const sink of this.sinks) {
      try {
        sink.accept(event);
      } catch (error) {
        // a sink's fault must never fail the request or the batch that caused the event
        this.log.error({ sink: sink.name, err: error instanceof Error ? error.message : String(error) }, 'notification sink failed');
      }
    }
  }

  /** Gives queued events up to `graceMs` to go out (README: shutdown), then stops every sink. */
  async close(graceMs = 2000): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.close(graceMs)));
  }
}
