import { expect } from 'chai';
import { createSecretBox } from '../../src/core/secret-box.js';

describe('secret box (AES-256-GCM, sealed values at rest)', () => {
  const box = createSecretBox(Buffer.alloc(32, 7), 'test');

  it('opens what it sealed, with a fresh IV each time', () => {
    const a = box.seal('JBSWY3DPEHPK3PXP');
    const b = box.seal('JBSWY3DPEHPK3PXP');
    expect(a).not.to.equal(b);
    expect(box.open(a)).to.equal('JBSWY3DPEHPK3PXP');
    expect(box.open(b)).to.equal('JBSWY3DPEHPK3PXP');
  });

  it('a value sealed with a context opens only with that context', () => {
    const sealed = box.seal('["token","owner"]', 'row-1');
    expect(box.open(sealed, 'row-1')).to.equal('["token","owner"]');
    expect(() => box.open(sealed, 'row-2')).to.throw();
    expect(() => box.open(sealed)).to.throw('unreadable sealed secret');
    // Nor does a value sealed without a context open as a bound one.
    expect(() => box.open(box.seal('x'), 'row-1')).to.throw('unreadable sealed secret');
  });

  it('refuses a changed body, another purpose or another key', () => {
    const sealed = box.seal('secret', 'row-1');
    const [version, iv, body, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => box.open([version, iv, flipped.toString('base64url'), tag].join('.'), 'row-1')).to.throw();
    expect(() => createSecretBox(Buffer.alloc(32, 7), 'other').open(sealed, 'row-1')).to.throw();
    expect(() => createSecretBox(Buffer.alloc(32, 8), 'test').open(sealed, 'row-1')).to.throw();
    expect(() => box.open('v2.only-two', 'row-1')).to.throw('unreadable sealed secret');
  });
});
