/** One documented APM_ variable. Parsing never throws: it returns the value or a problem string. */
export type VariableType = 'string' | 'integer' | 'number' | 'boolean' | 'port' | 'address' | 'path' | 'enum' | 'list';

export interface VariableSpec {
  name: string;
  type: VariableType;
  /** Default as the string the user would write; undefined means "no default" (optional unless required). */
  default?: string;
  required?: boolean;
  /** For 'enum'. */
  values?: readonly string[];
  min?: number;
  max?: number;
  /** One sentence for the README's configuration table. */
  doc: string;
}

export type VariableValue = string | number | boolean | readonly string[] | undefined;

export function parseVariable(spec: VariableSpec, raw: string | undefined): { value: VariableValue } | { problem: string } {
  if (raw === undefined || raw === '') {
    if (spec.required) return { problem: `${spec.name} is required` };
    if (spec.default === undefined) return { value: undefined };
    raw = spec.default;
  }
  const bad = (why: string) => ({ problem: `${spec.name}=${JSON.stringify(raw)}: ${why}` });
  switch (spec.type) {
    case 'string':
    case 'path':
      return { value: raw };
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return { value: true };
      if (/^(0|false|no|off)$/i.test(raw)) return { value: false };
      return bad('must be true or false');
    case 'integer':
    case 'port':
    case 'number': {
      const n = Number(raw);
      if (!/^-?[0-9]+(\.[0-9]+)?$/.test(raw.trim()) || !Number.isFinite(n)) return bad('must be a number');
      if (spec.type !== 'number' && !Number.isInteger(n)) return bad('must be a whole number');
      const min = spec.type === 'port' ? 0 : spec.min;
      const max = spec.type === 'port' ? 65535 : spec.max;
      if (min !== undefined && n < min) return bad(`must be at least ${min}`);
      if (max !== undefined && n > max) return bad(`must be at most ${max}`);
      return { value: n };
    }
    case 'address':
      if (!/^[A-Za-z0-9.\-:[\]]+:[0-9]{1,5}$/.test(raw)) return bad('must be host:port');
      return { value: raw };
    case 'enum':
      if (!spec.values?.includes(raw)) return bad(`must be one of ${spec.values?.join(', ')}`);
      return { value: raw };
    case 'list':
      return { value: Object.freeze(raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) };
  }
}
