import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

/**
 * NATS decentralized authentication for tests: an operator, a system account, an account with
 * JetStream, and `.creds` files for its users — JWTs signed locally with nkeys (no `nsc`, no
 * account server). startNats({ security: { operator } }) trusts the operator and preloads the
 * accounts (resolver MEMORY); a client then authenticates with a creds file alone.
 *
 * A NATS JWT is `base64url(header).base64url(claims).base64url(ed25519 signature)`, the header
 * naming alg "ed25519-nkey"; the issuer signs with its nkey. jti is the base32 SHA-512/256 of
 * the claims, as the reference implementation makes it.
 */

export interface NatsOperator {
  /** The operator JWT the server trusts. */
  jwt: string;
  /** Public key of the system account (JetStream needs one in operator mode). */
  systemAccount: string;
  /** Account public key → account JWT, preloaded into the server. */
  accounts: Record<string, string>;
  /** A creds file's text for a new user of the JetStream account. */
  userCreds(name: string): string;
  /** A creds file's text for a user of an account this server does not know: it must be refused. */
  strangerCreds(name: string): string;
}

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

const b64url = (text: string): string => Buffer.from(text).toString('base64url');

function signJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims = { jti: '', iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats };
  claims.jti = base32(createHash('sha512-256').update(JSON.stringify(claims)).digest());
  const signed = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${Buffer.from(issuer.sign(Buffer.from(signed))).toString('base64url')}`;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const JETSTREAM_UNLIMITED = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

function creds(account: KeyPair, name: string): string {
  const user = nkeys.createUser();
  const jwt = signJwt(account, user.getPublicKey(), name, { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 });
  const seed = new TextDecoder().decode(user.getSeed());
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

export function makeNatsOperator(): NatsOperator {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const stranger = nkeys.createAccount();
  const accountJwt = (pair: KeyPair, name: string, limits: Record<string, unknown>) => signJwt(operator, pair.getPublicKey(), name, { limits, default_permissions: { pub: {}, sub: {} }, type: 'account', version: 2 });
  return {
    jwt: signJwt(operator, operator.getPublicKey(), 'p2pwall-test', { type: 'operator', version: 2 }),
    systemAccount: system.getPublicKey(),
    accounts: {
      [system.getPublicKey()]: accountJwt(system, 'SYS', UNLIMITED),
      [account.getPublicKey()]: accountJwt(account, 'p2pwall', { ...UNLIMITED, ...JETSTREAM_UNLIMITED }),
    },
    userCreds: (name) => creds(account, name),
    strangerCreds: (name) => creds(stranger, name),
  };
}
