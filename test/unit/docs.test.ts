import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allVariables } from '../../bin/app-variables.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('docs stay true', () => {
  it('the README documents every APM_ variable, and no other', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `(APM_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(allVariables().map((v) => v.name).sort());
  });

  it('the README starts with the two commands, and .ci/run runs exactly them', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
    expect(readme.indexOf('```sh')).toBeLessThan(400);
    const ci = fs.readFileSync(path.join(root, '.ci/run'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
    expect(ci).toEqual(['npm install', 'npm test']);
  });
});
