import { createRequire } from 'node:module';
import { context, type Context, type TextMapPropagator } from '@opentelemetry/api';

/**
 * W3C `traceparent`/`tracestate` in message headers, so a sensor's publish span and the brain's
 * ingest span join one trace. Generic get/set functions keep this package free of NATS:
 *
 *   const h = headers(); injectTraceparent((name, value) => h.set(name, value));
 *   const parent = extractContext((name) => msg.headers?.get(name));
 */
let loaded: TextMapPropagator | undefined;
/**
 * @opentelemetry/core is loaded on first use, not when @p2pwall/common is imported (it costs
 * command-line tools tens of milliseconds). Both `import` and `require` resolve to its one
 * CommonJS build, so this is the same module instance the SDK uses.
 */
function propagator(): TextMapPropagator {
  if (loaded === undefined) {
    const core = createRequire(import.meta.url)('@opentelemetry/core') as typeof import('@opentelemetry/core');
    loaded = new core.W3CTraceContextPropagator();
  }
  return loaded;
}

export type HeaderSetter = (name: string, value: string) => void;
/** NATS MsgHdrs.get answers '' for a missing header; undefined and null are accepted too. */
export type HeaderGetter = (name: string) => string | undefined | null;

/** Writes the span of `ctx` (the active span by default) as headers; writes nothing outside a span. */
export function injectTraceparent(set: HeaderSetter, ctx: Context = context.active()): void {
  propagator().inject(ctx, undefined, { set: (_carrier, name, value) => set(name, value) });
}

/**
 * The context carried by the headers, to parent a span on; a missing or malformed traceparent
 * leaves `ctx` as it was (the span then starts a trace of its own), never an exception.
 */
export function extractContext(get: HeaderGetter, ctx: Context = context.active()): Context {
  return propagator().extract(ctx, undefined, {
    get: (_carrier, name) => {
      const value = get(name);
      return value === null || value === '' ? undefined : value;
    },
    keys: () => propagator().fields(),
  });
}
