import { expect } from 'chai';
import { isAllowedFilter, isAllowedTopic, isValidPrefix, MAX_TOPIC_BYTES } from '../../src/realtime/topics.js';

const P = 'axonpush/org1';

describe('realtime topic rules', () => {
  describe('isAllowedFilter (SUBSCRIBE)', () => {
    const cases: Array<[filter: string, allowed: boolean, why: string]> = [
      [`${P}/#`, true, 'everything under the prefix'],
      [`${P}/+/x`, true, 'single-level wildcard after the prefix'],
      [`${P}/+`, true, 'single-level wildcard as last level'],
      [`${P}/a/b`, true, 'literal levels'],
      [`${P}/default/app/chan/evt/+`, true, 'AxonPush template shape'],
      [`${P}/ünïcödé/日本/🚀`, true, 'unicode levels'],
      [P, false, 'the prefix itself'],
      [`${P}#`, false, '# glued to the prefix'],
      [`${P}+`, false, '+ glued to the prefix'],
      [`${P}/`, false, 'empty level after the prefix'],
      [`${P}//x`, false, 'empty level in the middle'],
      [`${P}/a/`, false, 'trailing empty level'],
      [`${P}/../x`, false, '.. level'],
      [`${P}/./x`, false, '. level'],
      [`${P}/a/..`, false, 'trailing .. level'],
      ['#', false, 'bare #'],
      ['+', false, 'bare +'],
      ['+/org1/x', false, 'wildcard in namespace level'],
      ['axonpush/+/x', false, 'wildcard in org level'],
      ['axonpush/#', false, '# over every org'],
      ['axonpush/+', false, '+ over every org'],
      ['axonpush/org2/#', false, "another org's prefix"],
      ['axonpush/org10/x', false, 'org id that extends ours as a string'],
      ['axonpush/org10/#', false, 'org id that extends ours as a string (#)'],
      ['other/org1/x', false, 'another namespace'],
      ['$SYS/#', false, '$SYS'],
      [`$SYS/${P}/x`, false, '$SYS even with our prefix inside'],
      [`$${P}/x`, false, 'any $ topic'],
      [`$share/g/${P}/#`, true, 'shared subscription under the prefix'],
      [`$share/g/${P}/+/x`, true, 'shared subscription with +'],
      [`$share/g/other/#`, false, 'shared subscription elsewhere'],
      [`$share/g/axonpush/org2/#`, false, "shared subscription on another org"],
      [`$share/g/axonpush/+/x`, false, 'shared subscription with wildcard org'],
      [`$share//${P}/x`, false, 'empty share group'],
      [`$share/+/${P}/x`, false, 'wildcard share group'],
      [`$share/#/${P}/x`, false, '# share group'],
      ['$share/g', false, 'share without filter'],
      ['$share/g/', false, 'share with empty filter'],
      [`$share/g/$share/h/${P}/x`, false, 'nested share'],
      [`$share/g/${P}`, false, 'shared prefix itself'],
      [`$queue/${P}/#`, true, '$queue under the prefix'],
      ['$queue/axonpush/#', false, '$queue over every org'],
      [`$queue/${P}`, false, '$queue prefix itself'],
      [`${P}/a#`, false, '# not a whole level'],
      [`${P}/a+/b`, false, '+ not a whole level'],
      [`${P}/+a`, false, '+ prefixing a level'],
      [`${P}/#/x`, false, '# not last'],
      [`${P}/#/#`, false, 'two #'],
      [`${P}/a\u0000b`, false, 'NUL'],
      [`${P}/a\u0007b`, false, 'control character'],
      [`${P}/a\u009fb`, false, 'C1 control character'],
      [`${P}/\ud800`, false, 'lone surrogate'],
      ['', false, 'empty filter'],
      [`${P}/${'a'.repeat(MAX_TOPIC_BYTES)}`, false, 'longer than 65535 bytes'],
    ];
    for (const [filter, allowed, why] of cases) {
      it(`${allowed ? 'allows' : 'denies'} ${JSON.stringify(filter.length > 60 ? `${filter.slice(0, 40)}…` : filter)} (${why})`, () => {
        expect(isAllowedFilter(P, filter)).to.equal(allowed);
      });
    }
  });

  describe('isAllowedTopic (PUBLISH)', () => {
    const cases: Array<[topic: string, allowed: boolean, why: string]> = [
      [`${P}/a`, true, 'one level'],
      [`${P}/a/b`, true, 'literal levels'],
      [`${P}/default/app/chan/evt/agent`, true, 'AxonPush template shape'],
      [`${P}/ünïcödé/日本/🚀`, true, 'unicode levels'],
      [`${P}/a b/c-d_e.f`, true, 'spaces, dashes and dots inside a level'],
      [P, false, 'the prefix itself'],
      [`${P}#`, false, '# glued to the prefix'],
      [`${P}/`, false, 'empty level after the prefix'],
      [`${P}//x`, false, 'empty level in the middle'],
      [`${P}/../x`, false, '.. level'],
      [`${P}/./x`, false, '. level'],
      [`${P}/#`, false, '# in a topic name'],
      [`${P}/+`, false, '+ in a topic name'],
      [`${P}/a+b`, false, '+ inside a level'],
      ['axonpush/org2/x', false, "another org's prefix"],
      ['axonpush/org10/x', false, 'org id that extends ours as a string'],
      ['$SYS/broker/x', false, '$SYS'],
      [`$share/g/${P}/x`, false, '$share is not a topic name'],
      [`${P}/a\u0000b`, false, 'NUL'],
      [`${P}/\udc00`, false, 'lone surrogate'],
      ['', false, 'empty topic'],
      [`${P}/${'é'.repeat(32_770)}`, false, 'under 65535 UTF-16 units but over 65535 UTF-8 bytes'],
    ];
    for (const [topic, allowed, why] of cases) {
      it(`${allowed ? 'allows' : 'denies'} ${JSON.stringify(topic.length > 60 ? `${topic.slice(0, 40)}…` : topic)} (${why})`, () => {
        expect(isAllowedTopic(P, topic)).to.equal(allowed);
      });
    }

    it('allows a topic of exactly 65535 bytes', () => {
      const topic = `${P}/${'a'.repeat(MAX_TOPIC_BYTES - P.length - 1)}`;
      expect(Buffer.byteLength(topic)).to.equal(MAX_TOPIC_BYTES);
      expect(isAllowedTopic(P, topic)).to.equal(true);
    });
  });

  describe('prefixes', () => {
    it('never allows anything under a malformed prefix', () => {
      for (const prefix of ['', '$SYS', 'axonpush/+', 'axonpush/#', 'axonpush//org1', 'axonpush/..', 'axonpush/org1/', '/org1', 'a\u0000b']) {
        expect(isValidPrefix(prefix), prefix).to.equal(false);
        expect(isAllowedTopic(prefix, `${prefix}/x`), prefix).to.equal(false);
        expect(isAllowedFilter(prefix, `${prefix}/#`), prefix).to.equal(false);
      }
    });

    it('accepts multi-level namespaces', () => {
      expect(isValidPrefix('acme/realtime/org1')).to.equal(true);
      expect(isAllowedFilter('acme/realtime/org1', 'acme/realtime/org1/#')).to.equal(true);
      expect(isAllowedFilter('acme/realtime/org1', 'acme/realtime/+/#')).to.equal(false);
    });
  });
});
