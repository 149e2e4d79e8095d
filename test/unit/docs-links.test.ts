import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The anchor GitHub gives a heading: its rendered text, lowercased, with punctuation other than
 * '-' and '_' dropped and each space turned into '-' (github-slugger's rules).
 */
function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The file's text outside fenced code blocks (fences and their content become empty lines). */
function prose(markdown: string): string[] {
  const lines = markdown.split('\n');
  let fence: string | null = null;
  return lines.map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      return '';
    }
    return line;
  });
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    // A repeated heading gets -1, -2, … on GitHub.
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  // Code spans may hold brackets and parentheses that aren't links.
  const text = prose(markdown).join('\n').replace(/`[^`\n]*`/g, '');
  const inline = [...text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!);
  return [...inline, ...references];
}

/** Every relative link and anchor in `files` that doesn't resolve, as "file: link (why)". */
function brokenLinks(files: string[], base: string): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let set = anchorCache.get(file);
    if (!set) anchorCache.set(file, (set = anchorsOf(readFileSync(file, 'utf8'))));
    return set;
  };
  const problems: string[] = [];
  for (const file of files) {
    for (const link of linksOf(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:, …
      const hash = link.indexOf('#');
      const path = hash === -1 ? link : link.slice(0, hash);
      const anchor = hash === -1 ? null : decodeURIComponent(link.slice(hash + 1));
      const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(base, file)}: ${link}`;
      if (!existsSync(target)) problems.push(`${where} (no such file)`);
      else if (anchor !== null && target.endsWith('.md') && !anchors(target).has(anchor)) problems.push(`${where} (no such anchor)`);
    }
  }
  return problems;
}

function docFiles(base: string): string[] {
  const docs = join(base, 'docs');
  const pages = existsSync(docs) ? readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => join(docs, name)) : [];
  return [join(base, 'README.md'), ...pages.sort()];
}

describe('docs: links', () => {
  it('turns headings into the anchors GitHub makes', () => {
    expect(githubSlug('Step-up (recent sign-in)')).to.equal('step-up-recent-sign-in');
    expect(githubSlug('gatehouse-auth/client')).to.equal('gatehouse-authclient');
    expect(githubSlug('External issuers (Auth0)')).to.equal('external-issuers-auth0');
    expect(githubSlug('`realtime.url` and the_broker')).to.equal('realtimeurl-and-the_broker');
    expect([...anchorsOf('# A\n\n```sh\n# not a heading\n```\n\n## A\n')]).to.deep.equal(['a', 'a-1']);
  });

  it('reports a missing file or anchor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-docs-links-'));
    try {
      mkdirSync(join(dir, 'docs'));
      writeFileSync(join(dir, 'README.md'), '# R\n\n[ok](docs/a.md#two) [gone](docs/b.md) [bad](docs/a.md#three) [self](#r) `[x](#nope)`\n');
      writeFileSync(join(dir, 'docs', 'a.md'), '# A\n\n## Two\n\n[up](../README.md#r) [lost](#one)\n\n```md\n[ignored](#zero)\n```\n');
      expect(brokenLinks(docFiles(dir), dir)).to.deep.equal([
        'README.md: docs/b.md (no such file)',
        'README.md: docs/a.md#three (no such anchor)',
        'docs/a.md: #one (no such anchor)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every relative link and anchor in README.md and docs/*.md resolves', () => {
    expect(brokenLinks(docFiles(root), root)).to.deep.equal([]);
  });

  it('every docs page opens with its title and a sentence saying what it is for', () => {
    const [, ...pages] = docFiles(root);
    expect(pages).to.not.be.empty;
    const openings = pages.map((file) => {
      const [title = '', blank, purpose = ''] = readFileSync(file, 'utf8').split('\n');
      return { page: relative(root, file), ok: /^# \S/.test(title) && blank === '' && /^[A-Z`].*\S/.test(purpose) };
    });
    expect(openings.filter(({ ok }) => !ok).map(({ page }) => page)).to.deep.equal([]);
  });
});
