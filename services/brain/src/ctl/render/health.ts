/**
 * A readiness answer as one line: "ready: nats ok, redis ok". The brain's API port answers
 * {status, checks: {name: bool}}; the telemetry port {status, components: {name: {ok, detail}}}.
 * Both are read, so `p2pwall health --url` works against either port. The API's `warnings`
 * (incident history lost, Redis without persistence) follow, one line each.
 */
export function healthLine(status: number, body: unknown): string {
  const answer = typeof body === 'object' && body !== null ? (body as { status?: unknown; checks?: unknown; components?: unknown; warnings?: unknown }) : {};
  const word = typeof answer.status === 'string' ? answer.status : status === 200 ? 'ready' : 'not ready';
  const entries = (value: unknown) => (typeof value === 'object' && value !== null ? Object.entries(value as Record<string, unknown>) : []);
  const checks = [
    ...entries(answer.checks).map(([name, ok]) => `${name} ${ok === true ? 'ok' : 'DOWN'}`),
    ...entries(answer.components).map(([name, c]) => {
      const { ok, detail } = (c ?? {}) as { ok?: unknown; detail?: unknown };
      return `${name} ${ok === true ? 'ok' : 'DOWN'}${ok !== true && typeof detail === 'string' && detail ? ` (${detail})` : ''}`;
    }),
  ];
  const detail = checks.length > 0 ? checks.join(', ') : typeof body === 'string' ? body.trim().slice(0, 200) : '';
  // warnings do not make the brain unready, but must not go unseen: one line each, after the status
  const warnings = entries(answer.warnings).map(([topic, text]) => `WARNING ${topic}: ${String(text)}\n`);
  return `${word}${status === 200 ? '' : ` (HTTP ${status})`}${detail ? `: ${detail}` : ''}\n${warnings.join('')}`;
}
