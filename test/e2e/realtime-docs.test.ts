import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { startExample, type RunningExample } from '../helpers/example.js';
import { codeBlocksInSection, runBash } from '../helpers/markdown.js';

const root = resolve(import.meta.dirname, '../..');
const SECTION = '## From an API key to a live message';
const BASE_LINE = 'BASE=http://127.0.0.1:3000';

/**
 * The walkthrough of docs/realtime.md as a reader runs it from the repository's root: the
 * first `sh` block, the `js` block saved as mqtt-demo.mjs where the shell then is, the second
 * `sh` block. Only the server's URL changes.
 */
function walkthroughAgainst(url: string): string {
  const markdown = readFileSync(join(root, 'docs', 'realtime.md'), 'utf8');
  const [setup, run] = codeBlocksInSection(markdown, SECTION, 'sh');
  const [script] = codeBlocksInSection(markdown, SECTION, 'js');
  if (!setup || !run || !script) throw new Error(`"${SECTION}": expected two sh blocks and a js block`);
  expect(setup.split('\n').filter((line) => line.trim() === BASE_LINE), 'one BASE assignment').to.have.length(1);
  expect(script, 'the heredoc below must not end early').not.to.match(/^EOF_MQTT_DEMO$/m);
  return [setup.replace(BASE_LINE, `BASE=${url}`), `cat > mqtt-demo.mjs <<'EOF_MQTT_DEMO'\n${script}\nEOF_MQTT_DEMO`, run].join('\n\n');
}


describe('docs: the realtime walkthrough, pasted into bash against the example', function () {
  this.timeout(60_000);
  let example: RunningExample;

  before(async () => {
    example = await startExample();
  });

  after(async () => {
    await example?.close();
  });

  it('goes from an API key to a live MQTT message, and leaves nothing in the repository', async () => {
    const leftovers = ['creds.json', 'mqtt-demo.mjs', 'node_modules/node_modules'].filter((name) => existsSync(join(root, name)));
    expect(leftovers, 'present before the run: remove them').to.deep.equal([]);

    const run = await runBash(`${walkthroughAgainst(example.url)}\necho "demo dir: \${DEMO:-none}"`, root);
    const report = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, report).to.equal(0);
    const orgId = /"organizationId":"([0-9a-f-]{36})"/.exec(run.stdout)?.[1];
    expect(orgId, report).to.be.a('string');
    expect(run.stdout, report).to.match(/connected as k-[0-9a-f]{8}-/);
    expect(run.stdout, report).to.include('subscribe axonpush/# -> [ 135 ]');
    expect(run.stdout, report).to.include(`received axonpush/${orgId}/default/app-1/builds/deploy/agent-7 hello over MQTT`);

    // The credentials and the script lived in a temporary directory, which the walkthrough removed.
    expect(['creds.json', 'mqtt-demo.mjs', 'node_modules/node_modules'].filter((name) => existsSync(join(root, name))), report).to.deep.equal([]);
    const demoDir = /^demo dir: (\S+)$/m.exec(run.stdout)?.[1];
    expect(demoDir, report).to.be.a('string').and.not.equal(root);
    expect(existsSync(demoDir!), report).to.equal(false);
  });
});
