import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');
const world = join(root, 'world');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier in a file, as TypeScript sees them: import/export ... from, import '...', import(...) and import('...').T. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** `src/...: spec` for every import in src/ that resolves into world/. */
function importsIntoWorld(): { files: number; imports: number; offending: string[] } {
  const offending: string[] = [];
  let imports = 0;
  const files = tsFiles(src);
  for (const file of files) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      imports++;
      if (!spec.startsWith('.') && !spec.startsWith('/')) continue; // a package
      const target = resolve(dirname(file), spec);
      if (target === world || target.startsWith(world + sep)) offending.push(`${relative(root, file)}: ${spec}`);
    }
  }
  return { files: files.length, imports, offending };
}

describe('layers: src/ is the bot, world/ the simulated world', () => {
  it('finds every kind of import', () => {
    const text = [
      "import { a } from '../../world/a.js';",
      "import type { B } from '../world/b.js';",
      "export { c } from './c.js';",
      "import './d.js';",
      "const e = await import('../world/e.js');",
      "type F = import('../world/f.js').F;",
    ].join('\n');
    expect(specifiers(text)).toEqual(['../../world/a.js', '../world/b.js', './c.js', './d.js', '../world/e.js', '../world/f.js']);
  });

  it('nothing under src/ imports from world/', () => {
    const { files, imports, offending } = importsIntoWorld();
    expect(files).toBeGreaterThan(10);
    expect(imports).toBeGreaterThan(50);
    if (offending.length > 0) console.error(`src/ imports world/:\n  ${offending.join('\n  ')}`);
    expect(offending).toEqual([]);
  });
});
