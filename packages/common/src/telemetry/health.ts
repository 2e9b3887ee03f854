/** What one component (NATS, Redis, the kernel queue, ...) last said about being ready. */
export interface ComponentHealth {
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  ok: boolean;
  components: Record<string, ComponentHealth>;
}

/**
 * Readiness of a service as the sum of its components: ready when every component registered so
 * far is ready. Components that must be waited for are registered up front (`expect`), so the
 * service is not ready merely because nothing has reported yet. Liveness needs no registry: the
 * HTTP server answers from the same event loop, so a blocked loop fails the live probe by itself.
 */
export class HealthRegistry {
  private readonly components = new Map<string, ComponentHealth>();

  /** Registers components that are not ready until they say so. */
  expect(...names: string[]): void {
    for (const name of names) if (!this.components.has(name)) this.components.set(name, { ok: false, detail: 'starting' });
  }

  setReady(component: string, ok: boolean, detail?: string): void {
    this.components.set(component, detail === undefined ? { ok } : { ok, detail });
  }

  /** A component that no longer matters (a feature switched off at run time). */
  forget(component: string): void {
    this.components.delete(component);
  }

  ready(): Readiness {
    const components: Record<string, ComponentHealth> = {};
    let ok = true;
    for (const [name, health] of [...this.components].sort(([a], [b]) => a.localeCompare(b))) {
      components[name] = { ...health };
      ok &&= health.ok;
    }
    return { ok, components };
  }
}
