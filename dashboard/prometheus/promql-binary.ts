import { isComparison, isSetOp, type Binary, type BinaryOp, type VectorMatching } from './promql-ast.js';
import { badData, execution } from './prom-error.js';
import { checkUnique } from './promql-functions.js';
import { canonical, labelsKey, NAME, withoutName, type Labels, type Sample } from './promql-values.js';

/**
 * Binary operators between scalars and instant vectors, as Prometheus evaluates them: arithmetic
 * drops the metric name; a comparison filters (keeping the left value) unless `bool`, which gives
 * 0 or 1 and drops the name; vector–vector pairs match one-to-one on all labels but the name, or on
 * `on(…)` / all but `ignoring(…)`; and/or/unless match many-to-many.
 */
export function arithmetic(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
    case '%': return x % y;
    case '^': return Math.pow(x, y);
    case '==': return x === y ? 1 : 0;
    case '!=': return x !== y ? 1 : 0;
    case '>': return x > y ? 1 : 0;
    case '<': return x < y ? 1 : 0;
    case '>=': return x >= y ? 1 : 0;
    case '<=': return x <= y ? 1 : 0;
    default: throw new Error(`BUG: ${op} is not arithmetic`);
  }
}

export function scalarScalar(b: Binary, x: number, y: number): number {
  if (isComparison(b.op) && !b.returnBool) throw badData('comparisons between scalars must use BOOL modifier');
  return arithmetic(b.op, x, y);
}

/** vector op scalar (scalarOnLeft: scalar op vector). */
export function vectorScalar(b: Binary, v: readonly Sample[], s: number, scalarOnLeft: boolean): Sample[] {
  const out: Sample[] = [];
  for (const x of v) {
    const [l, r] = scalarOnLeft ? [s, x.value] : [x.value, s];
    const value = arithmetic(b.op, l, r);
    if (isComparison(b.op) && !b.returnBool) {
      if (value === 1) out.push(x);
      continue;
    }
    out.push({ labels: withoutName(x.labels), value: isComparison(b.op) ? value : value });
  }
  return out;
}

function signature(l: Labels, m: VectorMatching | undefined): string {
  if (m?.on) return labelsKey(Object.fromEntries(m.labels.map((k) => [k, l[k] ?? ''])));
  const ignored = new Set([NAME, ...(m?.labels ?? [])]);
  return labelsKey(Object.fromEntries(Object.entries(l).filter(([k]) => !ignored.has(k))));
}

export function vectorVector(b: Binary, lhs: readonly Sample[], rhs: readonly Sample[]): Sample[] {
  if (isSetOp(b.op)) return setOp(b, lhs, rhs);
  const m = b.matching;
  const right = new Map<string, Sample>();
  for (const s of rhs) {
    const sig = signature(s.labels, m);
    if (right.has(sig)) throw execution(`found duplicate series for the match group ${sig} on the right hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side`);
    right.set(sig, s);
  }
  const seen = new Set<string>();
  const out: Sample[] = [];
  for (const l of lhs) {
    const sig = signature(l.labels, m);
    const r = right.get(sig);
    if (!r) continue;
    if (seen.has(sig)) throw execution(`found duplicate series for the match group ${sig} on the left hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side`);
    seen.add(sig);
    const value = arithmetic(b.op, l.value, r.value);
    const filtering = isComparison(b.op) && !b.returnBool;
    if (filtering && value !== 1) continue;
    out.push({ labels: resultLabels(l.labels, m, !filtering), value: filtering ? l.value : value });
  }
  return checkUnique(out, `binary ${b.op}`);
}

function resultLabels(l: Labels, m: VectorMatching | undefined, dropName: boolean): Labels {
  let out: Record<string, string> = { ...l };
  if (dropName) delete out[NAME];
  if (m?.on) out = Object.fromEntries(Object.entries(out).filter(([k]) => m.labels.includes(k)));
  else if (m) for (const k of m.labels) delete out[k];
  return canonical(out);
}

function setOp(b: Binary, lhs: readonly Sample[], rhs: readonly Sample[]): Sample[] {
  const m = b.matching;
  const rightSigs = new Set(rhs.map((s) => signature(s.labels, m)));
  if (b.op === 'and') return lhs.filter((s) => rightSigs.has(signature(s.labels, m)));
  if (b.op === 'unless') return lhs.filter((s) => !rightSigs.has(signature(s.labels, m)));
  const leftSigs = new Set(lhs.map((s) => signature(s.labels, m)));
  return [...lhs, ...rhs.filter((s) => !leftSigs.has(signature(s.labels, m)))];
}
