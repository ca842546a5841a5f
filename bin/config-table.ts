#!/usr/bin/env node
/** Prints the README's configuration table from the variable specs (`npm run config-table`). */
import { allVariables } from './app-variables.js';

const rows = allVariables().map((v) => {
  const kind = v.type === 'enum' ? v.values!.join(' \\| ') : v.type;
  const def = v.required ? '(required)' : v.default === undefined ? '(unset)' : v.default === '' ? '(empty)' : `\`${v.default}\``;
  return `| \`${v.name}\` | ${kind} | ${def} | ${v.doc.replace(/\|/g, '\\|')} |`;
});
console.log(['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n'));
