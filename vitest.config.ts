import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'proto/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'lab/test/**/*.test.ts', 'deploy/test/**/*.test.ts', 'scripts/test/**/*.test.ts', 'console/test/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
  },
});
