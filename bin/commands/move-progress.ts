import type { MoveProgress } from '../../lib/ops/move-context.js';

/** The progress bar of a move: `[#####.....] 12/40 tables  3,400 rows  copying ts_5_2026112301`. */
export function progressLine(p: MoveProgress, width = 24): string {
  const frac = p.tablesTotal > 0 ? Math.min(1, p.tablesDone / p.tablesTotal) : p.phase === 'done' ? 1 : 0;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  return `${bar} ${p.tablesDone}/${p.tablesTotal} tables  ${p.rowsCopied.toLocaleString('en-US')} rows  ${p.phase}${p.detail ? ` ${p.detail}` : ''}`;
}

/** Writes progress to stderr: one redrawn line on a terminal, a line per phase or 10% step otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update(p: MoveProgress): void; end(): void } {
  let lastPhase = '';
  let lastStep = -1;
  let drawn = false;
  return {
    update(p) {
      const line = progressLine(p);
      if (stream.isTTY) {
        stream.write(`\r${line.slice(0, (stream.columns ?? 120) - 1).padEnd(Math.min(stream.columns ?? 120, 120) - 1)}`);
        drawn = true;
        return;
      }
      const step = p.tablesTotal > 0 ? Math.floor((10 * p.tablesDone) / p.tablesTotal) : 0;
      if (p.phase !== lastPhase || step !== lastStep) stream.write(`${line}\n`);
      lastPhase = p.phase;
      lastStep = step;
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
