import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type { AggregateOp, BinaryOp, Expr, Matcher, MatchType, VectorMatching, VectorSelector } from './promql-ast.js';
import { durationSeconds, numberValue, stringValue } from './promql-literals.js';
import { checkCall, typeName, typeOf } from './promql-functions.js';
import { badData, unsupported } from './prom-error.js';
import { compileMatcher, compileRegex } from './promql-values.js';

/**
 * PromQL text → Expr, through the Prometheus project's own Lezer grammar (the one its web UI uses), so
 * the syntax accepted is Prometheus's. Anything the grammar accepts but this API does not evaluate
 * (subqueries, `@`, other functions and aggregations, group modifiers, atan2) is refused with a 422
 * naming it; a syntax error is a 400 naming its position.
 */
export const MAX_QUERY_LENGTH = 16_384;

const AGGREGATES: ReadonlySet<string> = new Set(['sum', 'avg', 'min', 'max', 'count', 'topk', 'bottomk']);
const BINARY_OPS: Record<string, BinaryOp> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=', And: 'and', Or: 'or', Unless: 'unless',
};

export function parsePromQL(text: string): Expr {
  if (text.length > MAX_QUERY_LENGTH) throw badData(`query is longer than ${MAX_QUERY_LENGTH} characters`);
  if (text.trim() === '') throw badData('1:1: parse error: no expression found in input');
  const tree = parser.parse(text);
  tree.iterate({
    enter(n) {
      if (n.type.isError) throw badData(`${position(text, n.from)}: parse error: unexpected ${n.to > n.from ? JSON.stringify(text.slice(n.from, n.to)) : 'end of input'}${unknownFunction(text, n.node)}`);
    },
  });
  const top = children(tree.topNode);
  if (top.length !== 1) throw badData('1:1: parse error: expected one expression');
  return new Builder(text).expr(top[0]!);
}

class Builder {
  constructor(private readonly src: string) {}

  text(n: SyntaxNode): string {
    return this.src.slice(n.from, n.to);
  }

  expr(n: SyntaxNode): Expr {
    const c = children(n);
    switch (n.name) {
      case 'ParenExpr':
        return this.expr(c[0]!);
      case 'NumberDurationLiteral': {
        const v = numberValue(this.text(n));
        if (v === undefined) throw badData(`cannot parse number ${this.text(n)}`);
        return { kind: 'number', value: v };
      }
      case 'StringLiteral':
        return { kind: 'string', value: stringValue(this.text(n)) };
      case 'VectorSelector':
        return this.selector(n);
      case 'MatrixSelector': {
        const sel = this.expr(c[0]!);
        if (sel.kind !== 'selector') throw badData('ranges only allowed for vector selectors');
        return { kind: 'matrix', selector: sel, range: this.duration(c[1]!) };
      }
      case 'OffsetExpr':
        return this.offset(c);
      case 'UnaryExpr': {
        const op = this.text(c[0]!) === '-' ? '-' : '+';
        const inner = this.expr(c[1]!);
        const t = typeOf(inner);
        if (t !== 'scalar' && t !== 'vector') throw badData(`unary expression only allowed on expressions of type scalar or instant vector, got ${typeName(t)}`);
        return { kind: 'unary', op, expr: inner };
      }
      case 'BinaryExpr':
        return this.binary(c);
      case 'FunctionCall': {
        const name = this.text(c[0]!);
        const args = children(c[1]!).map((a) => this.expr(a));
        checkCall(name, args);
        return { kind: 'call', name, args };
      }
      case 'AggregateExpr':
        return this.aggregate(c);
      case 'SubqueryExpr':
        throw unsupported('subqueries');
      case 'StepInvariantExpr':
        throw unsupported('the @ modifier');
      default:
        throw unsupported(`${n.name} expressions`);
    }
  }

  duration(n: SyntaxNode): number {
    const s = durationSeconds(this.text(n));
    if (s === undefined) throw unsupported(`duration expression ${this.text(n)}`);
    return s;
  }

  selector(n: SyntaxNode): VectorSelector {
    const matchers: Matcher[] = [];
    for (const c of children(n)) {
      if (c.name === 'Identifier') matchers.push({ name: '__name__', type: '=', value: this.text(c) });
      else if (c.name === 'LabelMatchers') for (const m of children(c)) matchers.push(this.matcher(m));
    }
    if (!matchers.some((m) => !matchesEmpty(m))) throw badData('vector selector must contain at least one non-empty matcher');
    return { kind: 'selector', matchers, offset: 0 };
  }

  matcher(n: SyntaxNode): Matcher {
    const c = children(n);
    if (n.name === 'QuotedLabelName') return { name: '__name__', type: '=', value: stringValue(this.text(c[0]!)) };
    const name = n.name === 'QuotedLabelMatcher' ? stringValue(this.text(children(c[0]!)[0]!)) : this.text(c[0]!);
    const type = this.text(c[1]!) as MatchType;
    const value = stringValue(this.text(c[2]!));
    if (type === '=~' || type === '!~') {
      try {
        compileRegex(value);
      } catch (err) {
        throw badData(`invalid regular expression in matcher ${name}${type}${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    }
    return { name, type, value };
  }

  offset(c: SyntaxNode[]): Expr {
    const inner = this.expr(c[0]!);
    const d = c[2]!;
    const dc = children(d);
    const seconds = dc.length === 2 && this.text(dc[0]!) === '-' ? -this.duration(dc[1]!) : this.duration(d);
    const apply = (s: VectorSelector): VectorSelector => {
      if (s.offset !== 0) throw badData('offset may not be set multiple times');
      return { ...s, offset: seconds };
    };
    if (inner.kind === 'selector') return apply(inner);
    if (inner.kind === 'matrix') return { ...inner, selector: apply(inner.selector) };
    throw badData('offset modifier must be preceded by an instant vector selector or range vector selector');
  }

  binary(c: SyntaxNode[]): Expr {
    const lhs = this.expr(c[0]!);
    const rhs = this.expr(c[c.length - 1]!);
    const opNode = c[1]!;
    const op = BINARY_OPS[opNode.name];
    if (!op) throw unsupported(`the ${this.text(opNode)} operator`);
    for (const side of [lhs, rhs]) {
      const t = typeOf(side);
      if (t !== 'scalar' && t !== 'vector') throw badData(`binary expression must contain only scalar and instant vector types, got ${typeName(t)}`);
    }
    let returnBool = false;
    let matching: VectorMatching | undefined;
    for (const m of c.slice(2, -1)) {
      if (m.name === 'BoolModifier') returnBool = true;
      else if (m.name === 'MatchingModifierClause') matching = this.matching(m);
      else throw unsupported(`${this.text(m)} in a binary expression`);
    }
    return { kind: 'binary', op, lhs, rhs, returnBool, ...(matching ? { matching } : {}) };
  }

  matching(n: SyntaxNode): VectorMatching {
    const c = children(n);
    const labels = c[1] ? children(c[1]).map((l) => this.labelName(l)) : [];
    if (c.length > 2) throw unsupported(`${this.text(c[2]!)} (group modifiers)`);
    return { on: c[0]!.name === 'On', labels, card: 'one-to-one', include: [] };
  }

  labelName(n: SyntaxNode): string {
    return n.name === 'QuotedLabelName' ? stringValue(this.text(children(n)[0]!)) : this.text(n);
  }

  aggregate(c: SyntaxNode[]): Expr {
    const op = this.text(c.find((x) => x.name === 'AggregateOp')!);
    if (!AGGREGATES.has(op)) throw unsupported(`the ${op} aggregation`);
    const mod = c.find((x) => x.name === 'AggregateModifier');
    const body = children(c.find((x) => x.name === 'FunctionCallBody')!).map((a) => this.expr(a));
    const parametric = op === 'topk' || op === 'bottomk';
    if (body.length !== (parametric ? 2 : 1)) throw badData(`wrong number of arguments for aggregate expression provided, expected ${parametric ? 2 : 1}, got ${body.length}`);
    const inner = typeOf(body[body.length - 1]!);
    if (inner !== 'vector') throw badData(`expected type instant vector in aggregation expression, got ${typeName(inner)}`);
    if (parametric && typeOf(body[0]!) !== 'scalar') throw badData(`expected type scalar in aggregation parameter, got ${typeName(typeOf(body[0]!))}`);
    const mc = mod ? children(mod) : [];
    return {
      kind: 'aggregate',
      op: op as AggregateOp,
      ...(parametric ? { param: body[0]! } : {}),
      expr: body[body.length - 1]!,
      grouping: mc[1] ? children(mc[1]).map((l) => this.labelName(l)) : [],
      without: mc[0]?.name === 'Without',
    };
  }
}

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function matchesEmpty(m: Matcher): boolean {
  return compileMatcher(m)('');
}

function position(text: string, at: number): string {
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** " (unknown function foo)" when the error follows an identifier and a parenthesis. */
function unknownFunction(text: string, n: SyntaxNode): string {
  const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*$/.exec(text.slice(0, n.from));
  return m && text[n.from] === '(' ? `: unknown function ${m[1]}` : '';
}
