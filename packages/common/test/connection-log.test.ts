import { describe, expect, it } from 'vitest';
import { connectionCause, ConnectionLog, createLogger } from '../src/index.js';

function capture() {
  const lines: Array<{ level: string; msg: string; [field: string]: unknown }> = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { lines, logger };
}

describe('ConnectionLog: one line per change of a connection, with the cause in plain words', () => {
  it('connected, lost once with its cause, silent while retrying, a reminder, back with how long', () => {
    const { lines, logger } = capture();
    let now = 0;
    const log = new ConnectionLog(logger, { service: 'Redis', context: { url: 'redis://r:6379' }, remindMs: 60_000, now: () => now });
    log.up();
    log.up();
    for (let retry = 0; retry < 100; retry++) {
      now += 500;
      log.down(new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.'), 'keeping the blocklist we have');
    }
    now = 51_000;
    log.down(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), 'keeping the blocklist we have');
    now = 60_000;
    log.down(new Error('WRONGPASS invalid username-password pair'), 'check the password', 'error');
    now = 62_000;
    log.down(new Error('WRONGPASS invalid username-password pair'), 'check the password', 'error');
    now = 121_000;
    log.down(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), 'keeping the blocklist we have');
    now = 150_500;
    log.up();
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['info', 'connected to Redis'],
      ['warn', 'lost Redis: the connection closed; keeping the blocklist we have'],
      ['error', 'check the password'],
      ['warn', 'Redis still unavailable: connection refused; keeping the blocklist we have'],
      ['info', 'Redis is back'],
    ]);
    expect(lines[4]).toMatchObject({ url: 'redis://r:6379', downSeconds: 150 });
    expect(JSON.stringify(lines)).not.toMatch(/maxRetriesPerRequest/);
  });

  it('a connection that never came up says "cannot reach", and reminds after remindMs', () => {
    const { lines, logger } = capture();
    let now = 0;
    const log = new ConnectionLog(logger, { service: 'NATS', remindMs: 1000, now: () => now });
    log.down(new Error('connect ECONNREFUSED'), 'summaries wait');
    now = 999;
    log.down(new Error('connect ECONNREFUSED'), 'summaries wait');
    now = 1000;
    log.down(new Error('connect ECONNREFUSED'), 'summaries wait');
    expect(lines.map((line) => line.msg)).toEqual(['cannot reach NATS: connection refused; summaries wait', 'NATS still unavailable: connection refused; summaries wait']);
  });

  it('names causes for people', () => {
    expect(connectionCause(new Error('Connection is closed.'))).toBe('the connection closed');
    expect(connectionCause(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('not connected');
    expect(connectionCause(Object.assign(new Error('getaddrinfo ENOTFOUND redis'), { code: 'ENOTFOUND' }))).toBe('host name not found');
    expect(connectionCause(new Error('WRONGPASS invalid username-password pair'))).toBe('WRONGPASS invalid username-password pair');
  });
});
