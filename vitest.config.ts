import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Storage tests start real MariaDB servers (test/harness/mariadb.ts); each test file owns its servers,
// so files run in parallel processes with generous timeouts for server start-up.
//
// Workers: at least two. vitest's default (cores − 1) runs the files one at a time on a 2-core machine,
// where a file spends about half its time waiting on its servers (starting them, fsync, sockets): the
// machine was 38–46 % idle through the suite with one worker (vmstat every 5 s). Measured on the 2-core
// machine (whole suite, every test passing): one worker 627 s, two 389 s, three 359 s (more contention
// for 8 % less).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'lib/**/*.test.ts', 'collector/**/*.test.ts', 'beacon/**/*.test.ts', 'rollup/**/*.test.ts', 'dashboard/**/*.test.ts', 'bench/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['test/harness/global-setup.ts'],
    reporters: ['default', './test/harness/summary-reporter.ts'],
  },
});
