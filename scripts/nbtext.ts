// Notebook <-> text, for authoring and reviewing notebooks as plain TypeScript ("percent" format, as jupytext):
//   // %% [markdown]      a markdown cell: following lines are `// `-prefixed markdown
//   // %%                 a code cell
// `tsx scripts/nbtext.ts to-ipynb notebooks/01-svd.ts notebooks/01-svd.ipynb` writes a notebook without outputs
// (run `npm run notebooks:execute -- notebooks/01-svd.ipynb` next); `to-text` goes the other way.
import { readFileSync, writeFileSync } from 'node:fs';

interface Cell {
  cell_type: 'markdown' | 'code';
  metadata: Record<string, unknown>;
  source: string;
  outputs?: unknown[];
  execution_count?: number | null;
}

function toIpynb(text: string): object {
  const cells: Cell[] = [];
  let current: { kind: 'markdown' | 'code'; lines: string[] } | undefined;
  const flush = () => {
    if (current === undefined) return;
    while (current.lines.length && current.lines[current.lines.length - 1]!.trim() === '') current.lines.pop();
    while (current.lines.length && current.lines[0]!.trim() === '') current.lines.shift();
    const source = current.lines.join('\n');
    if (current.kind === 'markdown') cells.push({ cell_type: 'markdown', metadata: {}, source });
    else cells.push({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null });
  };
  for (const line of text.split('\n')) {
    const marker = /^\/\/ %%(\s*\[markdown\])?\s*$/.exec(line);
    if (marker) {
      flush();
      current = { kind: marker[1] ? 'markdown' : 'code', lines: [] };
    } else if (current === undefined) {
      if (line.trim() !== '') throw new Error(`text before the first '// %%' marker: ${line}`);
    } else if (current.kind === 'markdown') {
      current.lines.push(line.replace(/^\/\/ ?/, ''));
    } else {
      current.lines.push(line);
    }
  }
  flush();
  return {
    cells,
    metadata: {
      kernelspec: { name: 'lora-lab', display_name: 'TypeScript (lora-lab)', language: 'typescript' },
      language_info: { name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function toText(nb: { cells: { cell_type: string; source: string | string[] }[] }): string {
  return (
    nb.cells
      .map((c) => {
        const src = Array.isArray(c.source) ? c.source.join('') : c.source;
        if (c.cell_type === 'markdown') return '// %% [markdown]\n' + src.split('\n').map((l) => `// ${l}`.trimEnd()).join('\n');
        return '// %%\n' + src;
      })
      .join('\n\n') + '\n'
  );
}

const [mode, input, output] = process.argv.slice(2);
if ((mode !== 'to-ipynb' && mode !== 'to-text') || !input || !output) {
  console.error('usage: tsx scripts/nbtext.ts to-ipynb IN.ts OUT.ipynb | to-text IN.ipynb OUT.ts');
  process.exit(2);
}
if (mode === 'to-ipynb') {
  const nb = toIpynb(readFileSync(input, 'utf8')) as { cells: Cell[] };
  nb.cells.forEach((c, i) => (c as Cell & { id: string }).id = `cell-${i}`);
  writeFileSync(output, JSON.stringify(nb, null, 1) + '\n');
} else {
  writeFileSync(output, toText(JSON.parse(readFileSync(input, 'utf8'))));
}
