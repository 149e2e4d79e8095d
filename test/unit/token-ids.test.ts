import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sha256Hex } from '../../src/core/secrets.js';
import { timeOrderedId, tokenIdKey } from '../../src/tokens/token-ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('token ids and their storage keys', () => {
  describe('timeOrderedId', () => {
    it('is a UUIDv7 whose first 48 bits are the given time in ms', () => {
      const ms = Date.UTC(2030, 0, 1, 12, 0, 0, 123);
      const id = timeOrderedId(ms);
      expect(id).to.match(UUID_V7);
      expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).to.equal(ms);
    });

    it('draws fresh random bits for every id, across refills of its pool', () => {
      const ms = Date.now();
      const ids = new Set<string>();
      // 1,000 ids use the 4 KiB pool about four times over.
      for (let i = 0; i < 1000; i += 1) ids.add(timeOrderedId(ms));
      expect(ids.size).to.equal(1000);
      for (const id of ids) expect(id).to.match(UUID_V7);
      // The random part (all but the time, version and variant) differs in every bit position over many ids.
      const randomParts = [...ids].map((id) => id.replace(/-/g, '').slice(13));
      const everyDigitVaries = Array.from({ length: 19 }, (_, i) => new Set(randomParts.map((p) => p[i])).size > 1);
      expect(everyDigitVaries.every(Boolean)).to.equal(true);
    });

    it('keeps times outside 48 bits within them', () => {
      expect(timeOrderedId(-5).slice(0, 13)).to.equal('00000000-0000');
      expect(timeOrderedId(2 ** 49).slice(0, 13)).to.equal('ffffffff-ffff');
      expect(timeOrderedId(1.9).slice(0, 13)).to.equal('00000000-0001');
    });
  });

  describe('tokenIdKey', () => {
    it("leads a UUIDv7's hash with the id's time, so later ids sort after earlier ones", () => {
      const id = timeOrderedId(Date.UTC(2030, 0, 1));
      const key = tokenIdKey(id);
      expect(key).to.have.length(76);
      expect(key.slice(0, 12)).to.equal(id.slice(0, 8) + id.slice(9, 13));
      expect(key.slice(12)).to.equal(sha256Hex(id));
      // Not the id: a stolen key gives no token id.
      expect(key).not.to.include(id.slice(14));

      const start = Date.UTC(2030, 0, 1);
      const keys = Array.from({ length: 200 }, (_, i) => tokenIdKey(timeOrderedId(start + i * 7)));
      expect([...keys].sort()).to.deep.equal(keys);
    });

    it('is the plain SHA-256 of any other id (tokens of a custom issuer or of an earlier version)', () => {
      for (const id of [randomUUID(), 'not-a-uuid', '0188f0c0-0000-8000-8000-000000000000', timeOrderedId(Date.now()).toUpperCase(), '']) {
        expect(tokenIdKey(id), id).to.equal(sha256Hex(id));
      }
    });
  });
});
