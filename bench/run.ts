#!/usr/bin/env node
/**
 * `npm run bench` (= npm run build && node dist/bench/run.js): throughput, latency and the ceilings
 * beside them, on this machine, into bench/results/. See docs/benchmark.md and `--help`.
 */
import { freePort } from '../lib/net/free-port.js';
import { BenchUsageError, parseBenchArgs, USAGE } from './bench-options.js';
import { BenchDataInUseError, runBench } from './bench-run.js';

async function main(): Promise<void> {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof BenchUsageError) {
      console.error(`${err.message}\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const t0 = Date.now();
  const log = (line: string) => console.log(`[bench +${Math.round((Date.now() - t0) / 1000)}s] ${line}`);
  const { report, jsonFile, markdownFile } = await runBench(options, { freePort, log });
  log(`report: ${markdownFile} and ${jsonFile}`);
  const problems = report.runs.flatMap((r) => [...r.errors, ...[r.ceiling, r.endToEnd].filter((p) => p && !p.exact).map(() => 'rows counted differ from rows expected')]);
  if (problems.length > 0) {
    console.error(`bench finished with problems:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

// Ctrl-C: exit through process.exit so the MariaDB children get their SIGTERM (lib/mariadb exit hook).
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().catch((err: Error) => {
  // A refusal names its reason whole; anything else is a fault, with its stack.
  console.error(err instanceof BenchDataInUseError ? err.message : `cannot run the benchmark: ${err.stack ?? err.message}`);
  process.exit(1);
});
