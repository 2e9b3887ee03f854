import type { ComponentChildren } from 'preact';
import { href } from '../router.js';
import { ago, clock } from '../format.js';

/** Small pieces every page uses. */

export function Err({ message }: { message: string | undefined }) {
  return message === undefined ? null : <p class="error" role="alert">{message}</p>;
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function When({ iso }: { iso: string | null }) {
  return <time title={clock(iso)} dateTime={iso ?? undefined}>{ago(iso)}</time>;
}

export const PeerLink = ({ peer }: { peer: string }) => <a href={href(['peers', peer])}>{peer}</a>;
export const HostLink = ({ ip, site }: { ip: string; site?: string }) => <a href={href(['hosts', ip], site ? { site } : undefined)}>{site ? `${site}/${ip}` : ip}</a>;
export const IncidentLink = ({ id, children }: { id: string; children?: ComponentChildren }) => <a href={href(['incidents', id])}>{children ?? id}</a>;

/** `site/ip` as a host link. */
export function SiteHost({ text }: { text: string }) {
  const slash = text.indexOf('/');
  return slash < 0 ? <HostLink ip={text} /> : <HostLink ip={text.slice(slash + 1)} site={text.slice(0, slash)} />;
}

/** A decision id names what it blocks: endpoint:[udp:]ip:port, ip:ip, net:…, host:site:ip. The page of its peer or host. */
export function DecisionTarget({ id, value, scope, site }: { id: string; value: string; scope: string; site: string }) {
  if (scope === 'host') return <HostLink ip={value} site={site} />;
  if (scope === 'endpoint' || scope === 'ip') return <PeerLink peer={value} />;
  return <span title={id}>{value}</span>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted empty">{children}</p>;
}

export function Tag({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`tag tag-${kind}`}>{children}</span>;
}
