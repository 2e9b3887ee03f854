import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { SinkConfig } from '../config.js';
import { octetCounted } from '../format/rfc5424.js';

/**
 * Sends syslog messages (the imperative edge of a syslog sink): one datagram each over UDP
 * (RFC 5426), or octet-counted frames (RFC 6587, RFC 5425) over one TCP or TLS connection kept
 * open and made again after a failure. A send that fails throws: the sink's queue retries it.
 */

export interface SyslogSender {
  send(message: Buffer): Promise<void>;
  close(): void;
}

type Syslog = SinkConfig['syslog'];

export function syslogSender(config: Syslog, timeoutMs: number): SyslogSender {
  return config.transport === 'udp' ? new UdpSender(config.host!, config.port) : new StreamSender(config, timeoutMs);
}

class UdpSender implements SyslogSender {
  private readonly socket: UdpSocket;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    // an ICMP unreachable surfaces here on some systems: the send's own callback counts failures
    this.socket.on('error', () => undefined);
    this.socket.unref();
  }

  send(message: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(message, this.port, this.host, (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    this.socket.close();
  }
}

/** The TLS files of a syslog sink, read once at start (a missing file stops the brain at start, naming the key). */
function tlsFiles(tls: Syslog['tls']): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (key: 'ca' | 'cert' | 'key') => {
    const path = tls[key];
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`notifications syslog.tls.${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
    }
  };
  const files: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const content = read(key);
    if (content) files[key] = content;
  }
  return files;
}

class StreamSender implements SyslogSender {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly files: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(
    private readonly config: Syslog,
    private readonly timeoutMs: number,
  ) {
    this.files = config.transport === 'tls' ? tlsFiles(config.tls) : {};
  }

  private connect(): Promise<Socket> {
    const { host, port } = this.config;
    return new Promise((resolve, reject) => {
      const config = this.config;
      const ready = config.transport === 'tls' ? 'secureConnect' : 'connect';
      const socket =
        config.transport === 'tls'
          ? tlsConnect({ host: host!, port, ...this.files, rejectUnauthorized: config.tls.rejectUnauthorized, ...(isIP(host!) === 0 ? { servername: host! } : {}) })
          : netConnect({ host: host!, port });
      const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${this.timeoutMs} ms`)), this.timeoutMs);
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // the receiver never talks back; a closed or failed connection is made again at the next send
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
      socket.on('data', () => undefined);
    });
  }

  async send(message: Buffer): Promise<void> {
    if (!this.socket || this.socket.destroyed) {
      this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
      this.socket = await this.connecting;
    }
    const socket = this.socket;
    await new Promise<void>((resolve, reject) => {
      socket.write(octetCounted(message), (error) => {
        if (!error) return resolve();
        socket.destroy();
        reject(error);
      });
    });
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }
}
