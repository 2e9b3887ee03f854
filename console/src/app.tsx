import { useEffect, useState } from 'preact/hooks';
import { roleOf, session, type Role } from './api.js';
import { liveState, onLive, startLive, stopLive } from './live.js';
import { signOut, SIGNED_OUT } from './sign-out.js';
import { Allowlist } from './pages/allowlist.js';
import { Decisions } from './pages/decisions.js';
import { Sensors } from './pages/sensors.js';
import { Host } from './pages/host.js';
import { Incident } from './pages/incident.js';
import { Incidents } from './pages/incidents.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Peer } from './pages/peer.js';
import { href, navigate, useRoute, type Route } from './router.js';
import { Notice } from './ui/notice.js';
import { RoleContext } from './ui/role.js';

const NAV = [
  ['', 'Overview'],
  ['incidents', 'Incidents'],
  ['decisions', 'Decisions'],
  ['allowlist', 'Allowlist'],
  ['sensors', 'Sensors'],
] as const;

function Page({ route }: { route: Route }) {
  const [first = '', second] = route.parts;
  if (first === 'incidents' && second) return <Incident id={second} />;
  if (first === 'incidents') return <Incidents route={route} />;
  if (first === 'hosts' && second) return <Host ip={second} site={route.params.get('site')} />;
  if (first === 'peers' && second) return <Peer peer={second} />;
  if (first === 'decisions') return <Decisions route={route} />;
  if (first === 'allowlist') return <Allowlist route={route} />;
  if (first === 'sensors') return <Sensors />;
  return <Overview />;
}

/** Live: shows the stream's state, and how many events arrived since the page opened. */
function LiveBadge() {
  const [connected, setConnected] = useState(liveState.connected);
  const [events, setEvents] = useState(0);
  useEffect(() => {
    liveState.onChange = setConnected;
    const off = onLive(() => setEvents((n) => n + 1));
    return () => {
      off();
      liveState.onChange = () => undefined;
    };
  }, []);
  return <span class={`live ${connected ? 'on' : 'off'}`} data-testid="live" title="new incidents and decisions appear without reload">{connected ? `live · ${events} events` : 'reconnecting…'}</span>;
}

export function App() {
  const route = useRoute();
  const [role, setRole] = useState<Role | undefined>(undefined);
  const [checking, setChecking] = useState(session.token() !== null);
  useEffect(() => {
    const token = session.token();
    if (token === null) return;
    roleOf(token).then(setRole, () => session.clear()).finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    if (role) startLive();
    return stopLive;
  }, [role]);
  useEffect(() => {
    const out = (): void => setRole(undefined);
    window.addEventListener(SIGNED_OUT, out);
    return () => window.removeEventListener(SIGNED_OUT, out);
  }, []);
  if (checking) return <p class="muted">Checking the token…</p>;
  if (!role) return <Login onLogin={(r) => { setRole(r); if (route.parts[0] === 'login') navigate('#/'); }} />;
  const section = route.parts[0] === 'hosts' || route.parts[0] === 'peers' ? 'incidents' : (route.parts[0] ?? '');
  return (
    <RoleContext.Provider value={role}>
      <header class="top">
        <a class="brand" href="#/">p2pwall</a>
        <nav>{NAV.map(([path, label]) => <a key={path} href={href(path === '' ? [] : [path])} class={section === path ? 'active' : ''}>{label}</a>)}</nav>
        <LiveBadge />
        <span class="role" data-testid="role">{role} token</span>
        <button type="button" class="plain" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Notice />
        <Page route={route} />
      </main>
    </RoleContext.Provider>
  );
}
