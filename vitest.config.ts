import { defineConfig } from 'vitest/config';

// Storage tests start real MariaDB servers (test/harness/mariadb.ts); each test file owns its servers,
// so files run in parallel processes with generous timeouts for server start-up.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'lib/**/*.test.ts', 'collector/**/*.test.ts', 'beacon/**/*.test.ts', 'rollup/**/*.test.ts', 'dashboard/**/*.test.ts', 'bench/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['test/harness/global-setup.ts'],
    reporters: ['default', './test/harness/summary-reporter.ts'],
  },
});
