import { defineConfig } from 'vitest/config';

/**
 * Two projects that run side by side, each one file at a time: the lab's end-to-end tests (real
 * namespaces, servers and P2P clients, minutes each, mostly waiting) never overlap one another,
 * while the unit and integration tests run beside them. One file at a time over the whole suite
 * took 14 min on a 2-core machine; two at once keeps it well under the 15 CI allows.
 */
const END_TO_END = 'lab/test/e2e/**/*.test.ts';
const shared = { testTimeout: 30_000, pool: 'forks' as const, fileParallelism: false };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'proto/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'lab/test/**/*.test.ts', 'deploy/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
          exclude: [END_TO_END, '**/node_modules/**'],
        },
      },
      { test: { ...shared, name: 'e2e', include: [END_TO_END] } },
    ],
  },
});
