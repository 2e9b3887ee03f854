import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Throwaway certificates for TLS tests, made with the `openssl` CLI at test time (nothing is
 * checked in, nothing outlives the test): a CA, a server certificate for the given IP
 * addresses (SAN; 127.0.0.1 by default) signed by it, a client certificate signed by it for
 * mutual TLS, and a second, unrelated CA whose trust must not be enough.
 */

export interface TestCertificates {
  dir: string;
  /** PEM of the CA that signed the server and client certificates. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting only it must fail verification. */
  otherCa: string;
  /** Removes the directory and every key in it. */
  cleanup(): void;
}

const run = promisify(execFile);

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    const { code, stderr } = error as { code?: string | number; stderr?: string };
    if (code === 'ENOENT') throw new Error('openssl not found; install it: apt-get install openssl', { cause: error });
    throw new Error(`openssl ${args[0]} failed: ${(stderr ?? String(error)).trim()}`, { cause: error });
  }
}

// P-256 keys: fast to make, and accepted by Go (nats-server), OpenSSL (redis-server) and Node.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ['req', '-x509', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=p2pwall test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

async function makeLeaf(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(dir, ['req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${subject}`]);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

export async function makeTestCertificates(options: { ips?: string[] } = {}): Promise<TestCertificates> {
  const ips = options.ips ?? ['127.0.0.1'];
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-certs-'));
  try {
    await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'other-ca')]);
    const san = [...ips.map((ip) => `IP:${ip}`), 'DNS:localhost'].join(',');
    await Promise.all([
      makeLeaf(dir, 'server', ips[0] ?? 'localhost', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`),
      makeLeaf(dir, 'client', 'p2pwall-test-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n'),
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other-ca.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
