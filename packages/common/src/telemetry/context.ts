import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

let installed = false;

/**
 * The async context manager makes `tracer.startActiveSpan` and `context.active()` follow awaits,
 * so `injectTraceparent()` inside a span finds it. It is process-wide by nature of the API, but it
 * only carries context and exports nothing; it is installed once and stays for the process.
 */
export function installContextManager(): void {
  if (installed) return;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
  installed = true;
}
