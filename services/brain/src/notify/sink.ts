import { readFileSync } from 'node:fs';
import { LogLimiter, type Logger } from '@p2pwall/common';
import { firstLine, type SinkConfig } from './config.js';
import { DedupWindow } from './dedup.js';
import { dedupKey, type NotificationEvent, type NotificationKind } from './events.js';
import { cefMessage } from './format/cef.js';
import { webhookBody } from './format/json.js';
import { rfc5424Bytes } from './format/rfc5424.js';
import { slackPayload } from './format/slack.js';
import { teamsPayload } from './format/teams.js';
import { fullBucket, takeToken, type Bucket } from './rate-limit.js';
import { DeliveryQueue, type QueueOutcome } from './queue.js';
import { postJson, type HttpTarget } from './sinks/http.js';
import { syslogSender, type SyslogSender } from './sinks/syslog.js';

/**
 * One configured sink: the events it wants → de-duplication → rate limit → its delivery queue →
 * its receiver. Every event it is handed ends in exactly one counted outcome per step it reaches
 * (p2pwall_brain_notifications); what it suppresses is logged at debug, what it loses at warn
 * (at most once a minute per sink and outcome).
 */

export type SinkOutcome = QueueOutcome | 'rate-limited' | 'deduplicated';

export interface SinkEnvironment {
  /** The brain's version (CEF header) and host name (source of every message). */
  version: string;
  source: string;
  log: Logger;
  now?: () => number;
}

const LOSS_LOG_INTERVAL_MS = 60_000;

/** The first line of a sink's file (secretFile, urlFile), read at start (the config check found it readable). */
function fromFile(path: string, key: string): string {
  try {
    return firstLine(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}

export class NotificationSink {
  readonly name: string;
  /** `${kind}|${outcome}` → how many. */
  readonly counts = new Map<string, number>();
  private readonly wanted: ReadonlySet<NotificationKind>;
  private readonly dedup: DedupWindow;
  private bucket: Bucket;
  private readonly queue: DeliveryQueue<NotificationEvent>;
  private readonly lossLog = new LogLimiter(LOSS_LOG_INTERVAL_MS);
  private readonly http: HttpTarget | undefined;
  private readonly syslog: SyslogSender | undefined;

  constructor(
    private readonly config: SinkConfig,
    private readonly env: SinkEnvironment,
  ) {
    this.name = config.name;
    this.wanted = new Set(config.events);
    this.dedup = new DedupWindow(config.dedupSeconds * 1000);
    this.bucket = fullBucket(config.rateLimit.burst, this.now());
    const at = `notifications sink ${config.name}`;
    if (config.type === 'syslog') this.syslog = syslogSender(config.syslog, config.timeoutSeconds * 1000);
    else this.http = { url: new URL(config.urlFile === null ? config.url! : fromFile(config.urlFile, `${at}.urlFile`)), secret: config.secretFile === null ? config.secret : fromFile(config.secretFile, `${at}.secretFile`), timeoutMs: config.timeoutSeconds * 1000, userAgent: `p2pwall-brain/${env.version}` };
    const q = config.queue;
    this.queue = new DeliveryQueue((event) => this.deliver(event), { maxEvents: q.maxEvents, firstRetryMs: q.firstRetrySeconds * 1000, maxRetryMs: q.maxRetrySeconds * 1000, maxAgeMs: q.maxAgeSeconds * 1000 }, (event, outcome, error) => this.outcome(event, outcome, error), () => this.now());
  }

  private now(): number {
    return this.env.now?.() ?? Date.now();
  }

  wants(kind: NotificationKind): boolean {
    return this.wanted.has(kind);
  }

  /** Events waiting for delivery. */
  get queued(): number {
    return this.queue.length;
  }

  accept(event: NotificationEvent): void {
    if (!this.wanted.has(event.kind)) return;
    const now = this.now();
    if (!this.dedup.admit(dedupKey(event), now)) return this.outcome(event, 'deduplicated');
    const taken = takeToken(this.bucket, now, this.config.rateLimit);
    this.bucket = taken.bucket;
    if (!taken.allowed) return this.outcome(event, 'rate-limited');
    this.queue.push(event);
  }

  private outcome(event: NotificationEvent, outcome: SinkOutcome, error?: unknown): void {
    const key = `${event.kind}|${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const fields = { sink: this.name, kind: event.kind, eventId: event.eventId, outcome, ...(error ? { err: (error instanceof Error ? error.message : String(error)).slice(0, 300) } : {}) };
    if (outcome === 'sent' || outcome === 'deduplicated' || outcome === 'rate-limited') {
      this.env.log.debug(fields, `notification ${outcome}`);
      return;
    }
    const line = this.lossLog.take(outcome, this.now());
    if (!line) return;
    const what = {
      failed: 'notification delivery failed: retrying',
      'dropped-full': 'notification queue full: the oldest event was dropped',
      expired: 'notification not delivered within queue.maxAgeSeconds: dropped',
      rejected: 'notification refused by the receiver: dropped',
      shutdown: 'notification not delivered before shutdown: dropped',
    }[outcome];
    this.env.log.warn({ ...fields, queued: this.queue.length, leftOut: line.leftOut }, what);
  }

  /** One attempt: the payload made for this attempt (signed with its own timestamp), sent. */
  private async deliver(event: NotificationEvent): Promise<void> {
    const { source, version } = this.env;
    if (this.syslog) {
      const s = this.config.syslog;
      const frame = { facility: s.facility, hostname: source, appName: s.appName, procId: String(process.pid) };
      return this.syslog.send(rfc5424Bytes(event, frame, s.maxMessageBytes, s.format === 'cef' ? cefMessage(event, version, source) : undefined));
    }
    const payload = this.config.type === 'slack' ? slackPayload(event, source) : this.config.type === 'teams' ? teamsPayload(event, source) : webhookBody(event, source);
    await postJson(this.http!, JSON.stringify(payload), { 'x-p2pwall-event': event.kind, 'x-p2pwall-delivery': event.eventId }, this.now());
  }

  async close(graceMs: number): Promise<void> {
    await this.queue.close(graceMs);
    this.syslog?.close();
  }
}
