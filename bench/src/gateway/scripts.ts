/**
 * The load generators of bench/gateway, as Python programs run with `python3 -c` inside a lab
 * namespace. Python, not Node: a blocking `sendto` loop in CPython sends ~470k datagrams/s here
 * against ~390k for Node's asynchronous dgram (both through the gateway, no rules), and its
 * counts are exact (a returned sendto is a datagram handed to the kernel). Each prints one JSON
 * object as its last line.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** /usr/bin/python3 first (a pyenv shim on the PATH costs ~70 ms a start), then the PATH. */
export function pythonPath(): string {
  const dirs = ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '')];
  for (const dir of dirs) {
    const path = join(dir, 'python3');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error('python3 is not installed: the gateway benchmark uses it for its load generators (apt-get install python3)');
}

/**
 * UDP new-flow generator.
 *
 *   python3 -c FLOOD <rate/s | 0 = as fast as it can> <seconds> <first index> <sockets>
 *                    <addr,addr,…> <first port> <port count>
 *
 * Datagram k goes from socket k % sockets to (addrs[k % A], firstPort + (k / A) % portCount):
 * with A addresses and P ports, A × P consecutive datagrams of one socket never repeat a
 * 5-tuple, so each opens a new conntrack entry and a new flow in the sensor. Paced in 1 ms
 * ticks: each tick sends what the clock says is due, then sleeps to the next tick (it never
 * spins, so it leaves the CPU to the queue consumer when it is ahead). Reports what it sent,
 * its achieved rate, its CPU time and the largest backlog it had to catch up at a tick.
 */
export const PYTHON_FLOOD = String.raw`
import json, socket, sys, time
rate = float(sys.argv[1]); duration = float(sys.argv[2]); index = int(sys.argv[3]); nsock = int(sys.argv[4])
addrs = sys.argv[5].split(','); port_base = int(sys.argv[6]); port_count = int(sys.argv[7])
socks = []
for _ in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 0))
    socks.append(s)
payload = b'p2pwall-bench: one datagram, one new flow\n'
na = len(addrs)
sent = errors = max_lag = 0
start_index = index
perf = time.perf_counter
cpu0 = time.process_time()
t0 = perf()
end = t0 + duration
if rate <= 0:
    while True:
        for _ in range(256):
            k = index
            index += 1
            try:
                socks[k % nsock].sendto(payload, (addrs[k % na], port_base + (k // na) % port_count))
                sent += 1
            except OSError:
                errors += 1
        if perf() >= end:
            break
else:
    total = int(rate * duration)
    next_tick = t0
    while sent + errors < total:
        now = perf()
        if now >= end + 0.5:
            break
        due = min(total, int(rate * (now - t0)) + 1)
        lag = due - (sent + errors)
        if lag > max_lag:
            max_lag = lag
        while sent + errors < due:
            k = index
            index += 1
            try:
                socks[k % nsock].sendto(payload, (addrs[k % na], port_base + (k // na) % port_count))
                sent += 1
            except OSError:
                errors += 1
        next_tick += 0.001
        delay = next_tick - perf()
        if delay > 0:
            time.sleep(delay)
        else:
            next_tick = perf()
elapsed = perf() - t0
cpu = time.process_time() - cpu0
print(json.dumps({'sent': sent, 'errors': errors, 'seconds': elapsed, 'rate': sent / elapsed if elapsed > 0 else 0,
                  'cpuSeconds': cpu, 'maxBacklog': max_lag, 'firstIndex': start_index, 'nextIndex': index}))
`;

/**
 * Bulk TCP client for the lab's bulk service (203.0.113.250:5001, `GET n` / `PUT n`).
 *
 *   python3 -c BULK <host> <port> GET|PUT <bytes> <timeout s>
 *
 * Times from the connection being up to the last byte received (GET) or to the server's
 * `OK n` (PUT), so both directions are timed to the data having crossed the gateway.
 */
export const PYTHON_BULK = String.raw`
import json, socket, sys, time
host, port, direction, n, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
perf = time.perf_counter
t0 = perf()
s = socket.create_connection((host, port), timeout=timeout)
t1 = perf()
got = 0
reply = ''
if direction == 'GET':
    s.sendall(b'GET %d\n' % n)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while got < n:
        k = s.recv_into(view)
        if k == 0:
            break
        got += k
else:
    s.sendall(b'PUT %d\n' % n)
    chunk = b'a' * (1 << 20)
    left = n
    while left > 0:
        m = min(left, len(chunk))
        s.sendall(chunk if m == len(chunk) else chunk[:m])
        left -= m
    data = b''
    while not data.endswith(b'\n'):
        d = s.recv(64)
        if not d:
            break
        data += d
    reply = data.decode('latin1').strip()
    got = int(reply.split()[1]) if reply.startswith('OK ') else 0
t2 = perf()
s.close()
print(json.dumps({'direction': direction, 'bytes': got, 'expected': n, 'connectSeconds': t1 - t0, 'seconds': t2 - t1,
                  'bytesPerSecond': got / (t2 - t1) if t2 > t1 else 0, 'reply': reply}))
`;
