import { writeSync } from 'node:fs';

/**
 * Buffered, synchronous line output to a file descriptor: events stream out while the replay
 * runs, without one write per line, and in order with anything printed after them. A closed
 * pipe (`| head`) ends output quietly instead of with a stack trace.
 */
export class LineWriter {
  private buffer: string[] = [];
  private size = 0;
  closed = false;

  constructor(private readonly fd: number) {}

  line(text: string): void {
    if (this.closed) return;
    this.buffer.push(text);
    this.size += text.length + 1;
    if (this.size >= 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0 || this.closed) return;
    const chunk = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    this.size = 0;
    try {
      let written = 0;
      const bytes = Buffer.from(chunk);
      while (written < bytes.length) {
        try {
          written += writeSync(this.fd, bytes, written);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
          throw error;
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
        this.closed = true;
        return;
      }
      throw error;
    }
  }
}
