import { href } from './route.js';

/**
 * The page that explains a decision, from its id (@p2pwall/common decisionId): an endpoint or
 * address block → its peer's page; a host lock → the host's page; a network block → the network
 * blocks. Allow entries (allow:<id>) lead where the id they allow leads.
 */
export function decisionPage(id: string): string {
  const bare = id.startsWith('allow:') ? id.slice(6) : id;
  const untransported = (rest: string): string => rest.replace(/^(tcp|udp):/, '');
  if (bare.startsWith('endpoint:')) return href(['peers', untransported(bare.slice(9))]);
  if (bare.startsWith('ip:')) return href(['peers', untransported(bare.slice(3))]);
  if (bare.startsWith('host:')) {
    const rest = bare.slice(5);
    const colon = rest.indexOf(':');
    return colon < 0 ? href(['decisions']) : href(['hosts', rest.slice(colon + 1)], { site: rest.slice(0, colon) });
  }
  if (bare.startsWith('net:')) return href(['decisions'], { scope: 'network' });
  return href(['decisions']);
}
