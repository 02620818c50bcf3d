// The book's front page, taken from README.md so the two never disagree: what the suite is (README's opening
// paragraphs), the table of contents with what each notebook teaches (README's "The notebooks" table, its links
// turned into page links) and how to run it yourself (README's "Quick start").

export interface ReadmeParts {
  title: string;
  intro: string;
  notebooks: string;
  quickStart: string;
}

/** Splits README.md into the parts the front page shows; names the missing section if one is absent. */
export function readmeParts(readme: string): ReadmeParts {
  const title = /^#\s+(.+)$/m.exec(readme)?.[1]?.trim();
  if (title === undefined) throw new Error('README.md has no "# title" line: the book takes its name from it');
  const sections = new Map<string, string>();
  const chunks = readme.split(/^(?=## )/m);
  const intro = chunks[0]!.replace(/^#\s+.+$/m, '').trim();
  for (const chunk of chunks.slice(1)) {
    const [head, ...body] = chunk.split('\n');
    sections.set(head!.replace(/^##\s+/, '').trim().toLowerCase(), body.join('\n').trim());
  }
  const need = (name: string): string => {
    const s = sections.get(name);
    if (s === undefined) throw new Error(`README.md has no "## ${name}" section: the book's front page shows it`);
    return s;
  };
  return { title, intro, notebooks: need('the notebooks'), quickStart: need('quick start') };
}

/** Notebook slugs the README's table links to (`notebooks/01-svd.ipynb` → `01-svd`). */
export function linkedNotebooks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\((?:\.\/)?notebooks\/([^)#/]+)\.ipynb(?:#[^)]*)?\)/g)].map((m) => m[1]!);
}
