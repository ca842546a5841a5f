import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QUICK_DEFAULTS } from '../../bench/bench-options.js';
import { BenchDataInUseError, lockBenchData, runBench } from '../../bench/bench-run.js';
import { gib } from '../../bench/pool-state.js';

const dirs: string[] = [];
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lock-'));
  dirs.push(d);
  return d;
}

/** A live process other than this one, holding `dir` as a bench would (its lock file). */
function heldByAnother(dir: string): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ ownerPid: child.pid, command: 'dist/bench/run.js --phases peer', port: 0, startedAt: '2026-12-07T20:00:00.000Z' }));
  return child.pid!;
}

describe('the bench data directory', () => {
  it('is refused while another bench holds it, naming that bench, and nothing in it is touched', async () => {
    const data = tmpDir();
    const pid = heldByAnother(data);
    // The other bench's server data, which a second bench's pool run would remove before starting its own.
    const theirs = path.join(data, `pool-1-${gib(QUICK_DEFAULTS.bufferPools[0]!)}`, 'mariadb', 'shard-1', 'data', 'ibdata1');
    fs.mkdirSync(path.dirname(theirs), { recursive: true });
    fs.writeFileSync(theirs, 'theirs');
    const log: string[] = [];
    const refusal = await runBench({ ...QUICK_DEFAULTS, dataDir: data, outDir: path.join(tmpDir(), 'out') }, { freePort: async () => 1, log: (l) => log.push(l) }).catch((err: unknown) => err);
    // A refusal (bench/run.ts prints its message alone, no stack).
    expect(refusal).toBeInstanceOf(BenchDataInUseError);
    expect((refusal as Error).message).toBe(`cannot run the bench in ${data}: another bench uses it, process ${pid} (dist/bench/run.js --phases peer); give this one its own --data`);
    expect(fs.readFileSync(theirs, 'utf8')).toBe('theirs');
    expect(log).toEqual([]);
  });

  it('is taken over from a bench that exited, and released at the end', async () => {
    const data = tmpDir();
    heldByAnother(data);
    const exited = new Promise((resolve) => children[0]!.once('exit', resolve));
    children[0]!.kill('SIGKILL');
    await exited;
    const lock = lockBenchData(data);
    expect(JSON.parse(fs.readFileSync(path.join(data, 'owner.json'), 'utf8')).ownerPid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(path.join(data, 'owner.json'))).toBe(false);
    // Free again: a later bench takes it.
    lockBenchData(data).release();
  });
});
