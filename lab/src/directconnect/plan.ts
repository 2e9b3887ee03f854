/**
 * The lab's real Direct Connect network as data: where the hub (uhub, ADC) and the outside
 * client that shares a file live, and the size of what it shares. Pure: nothing runs here.
 *
 * The addresses are 203.0.113.176/29 and 198.51.100.176/29, clear of the FastTrack peer cache
 * (.1–.120 at most), the BitTorrent swarm (.160/28) and the lab's services. They are routed as
 * local in the internet namespace, like the swarm's.
 */
import type { Endpoint } from '../netns/addresses.js';

export const DC_ROUTES = ['203.0.113.176/29', '198.51.100.176/29'] as const;

/** uhub: ADC in clear on 1511 (its default port), ADC over TLS (`adcs://`) on 1512. */
export const DC_HUB: Endpoint = { ip: '203.0.113.180', port: 1511 };
export const DC_TLS_HUB: Endpoint = { ip: '203.0.113.180', port: 1512 };

/** The outside client (ncdc, active) that shares the lab file. */
export const DC_SHARER: Endpoint = { ip: '198.51.100.180', port: 41412 };
export const DC_SHARER_NICK = 'outsidepeer';
export const DC_CLIENT_NICK = 'insideclient';

/** The shared file: 4 MiB of deterministic bytes (ncdc asks for it in 128 KiB blocks, then the rest). */
export const DC_CONTENT = { name: 'p2pwall-lab-dc.bin', size: 4 * 1024 * 1024 } as const;

export type DcHubKind = 'adc' | 'adcs';

export function hubUrl(kind: DcHubKind): string {
  const hub = kind === 'adc' ? DC_HUB : DC_TLS_HUB;
  return `${kind}://${hub.ip}:${hub.port}`;
}

/** uhub's configuration: one hub, clear or TLS-only, with no accounts, plugins or banner. */
export function uhubConfig(hub: Endpoint, aclFile: string, tls?: { cert: string; key: string }): string {
  const lines = [
    `server_port=${hub.port}`,
    `server_bind_addr=${hub.ip}`,
    'hub_name=p2pwall lab hub',
    'hub_enabled=1',
    'max_users=50',
    'registered_users_only=0',
    `file_acl=${aclFile}`,
    'show_banner=0',
  ];
  if (tls) lines.push('tls_enable=yes', 'tls_require=yes', `tls_certificate=${tls.cert}`, `tls_private_key=${tls.key}`);
  return `${lines.join('\n')}\n`;
}
