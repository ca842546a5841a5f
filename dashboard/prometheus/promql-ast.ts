/**
 * The PromQL expressions this API evaluates, as plain data built from the Prometheus project's own
 * grammar (@prometheus-io/lezer-promql, see promql-parse.ts). Durations and times are seconds.
 */
export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
}

export interface VectorSelector {
  kind: 'selector';
  matchers: Matcher[];
  /** Seconds back from the evaluation time (`offset 5m` = 300; negative looks ahead). */
  offset: number;
}

export interface MatrixSelector {
  kind: 'matrix';
  selector: VectorSelector;
  /** The range, seconds. */
  range: number;
}

export interface NumberLiteral {
  kind: 'number';
  value: number;
}

export interface StringLiteral {
  kind: 'string';
  value: string;
}

export interface Call {
  kind: 'call';
  name: string;
  args: Expr[];
}

export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'topk' | 'bottomk';

export interface Aggregate {
  kind: 'aggregate';
  op: AggregateOp;
  /** topk/bottomk: k. */
  param?: Expr;
  expr: Expr;
  grouping: string[];
  without: boolean;
}

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '>' | '<' | '>=' | '<=' | 'and' | 'or' | 'unless';

export interface VectorMatching {
  on: boolean;
  labels: string[];
  /** group_left / group_right: the "many" side, with labels to copy from the "one" side. */
  card: 'one-to-one' | 'many-to-one' | 'one-to-many';
  include: string[];
}

export interface Binary {
  kind: 'binary';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  /** Comparison with `bool`: 0/1 instead of filtering. */
  returnBool: boolean;
  matching?: VectorMatching;
}

export interface Unary {
  kind: 'unary';
  op: '-' | '+';
  expr: Expr;
}

export type Expr = VectorSelector | MatrixSelector | NumberLiteral | StringLiteral | Call | Aggregate | Binary | Unary;

export type ValueType = 'vector' | 'matrix' | 'scalar' | 'string';

export function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

export function isSetOp(op: BinaryOp): boolean {
  return op === 'and' || op === 'or' || op === 'unless';
}
