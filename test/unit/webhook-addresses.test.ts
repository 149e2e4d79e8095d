import { expect } from 'chai';
import { isLoopbackHost, isPublicAddress } from '../../src/webhooks/addresses.js';
import { checkWebhookUrl } from '../../src/webhooks/url.js';

describe('webhook target addresses (SSRF rules, no network)', () => {
  it('refuses private, loopback, link-local, unique-local, multicast and unspecified IPv4 addresses', () => {
    for (const address of ['0.0.0.0', '0.1.2.3', '10.0.0.1', '100.64.0.1', '127.0.0.1', '127.255.255.254', '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.168.1.1', '198.18.0.1', '224.0.0.1', '255.255.255.255']) {
      expect(isPublicAddress(address), address).to.equal(false);
    }
  });

  it('refuses the same in IPv6, in IPv4-mapped form (dotted or hex) and through NAT64', () => {
    for (const address of ['::', '::1', '0:0:0:0:0:0:0:1', 'fe80::1', 'fe80::1%eth0', 'fd12:3456::1', 'fc00::1', 'fec0::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::127.0.0.1', '64:ff9b::a00:1']) {
      expect(isPublicAddress(address), address).to.equal(false);
    }
  });

  it('accepts public addresses, and nothing that is not an address', () => {
    for (const address of ['8.8.8.8', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8']) {
      expect(isPublicAddress(address), address).to.equal(true);
    }
    for (const value of ['', 'localhost', 'example.com', '1.2.3', '::g']) expect(isPublicAddress(value), value).to.equal(false);
  });

  it('knows which hosts are this machine (for http in development)', () => {
    for (const host of ['localhost', 'LOCALHOST', 'api.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '[::ffff:127.0.0.1]']) expect(isLoopbackHost(host), host).to.equal(true);
    for (const host of ['example.com', 'localhost.example.com', '10.0.0.1', '[::2]', '0.0.0.0']) expect(isLoopbackHost(host), host).to.equal(false);
  });

  it('checkWebhookUrl: https; http only to loopback when allowed; IP literals checked when blocking', () => {
    const dev = { allowInsecureLoopback: true, blockPrivateAddresses: false };
    const prod = { allowInsecureLoopback: false, blockPrivateAddresses: true };
    expect(checkWebhookUrl('https://Hooks.Example.com/in#x', dev)).to.equal('https://hooks.example.com/in');
    expect(checkWebhookUrl('http://localhost:3000/in', dev)).to.equal('http://localhost:3000/in');
    expect(checkWebhookUrl('https://10.0.0.1/in', dev)).to.equal('https://10.0.0.1/in');
    expect(() => checkWebhookUrl('http://localhost:3000/in', prod)).to.throw(/must use https/);
    expect(() => checkWebhookUrl('http://example.com/in', dev)).to.throw(/must use https/);
    expect(() => checkWebhookUrl('https://10.0.0.1/in', prod)).to.throw(/private/);
    expect(() => checkWebhookUrl('https://[fd00::1]/in', prod)).to.throw(/private/);
    expect(() => checkWebhookUrl('https://0x7f000001/in', prod)).to.throw(/private/);
    expect(checkWebhookUrl('https://hooks.example.com/in', prod)).to.equal('https://hooks.example.com/in');
  });
});

describe('webhook connections go to the address checked', () => {
  it('the pinned lookup answers the checked address for any name, in the single and the `all` form', async () => {
    const { pinnedLookup } = await import('../../src/webhooks/sender.js');
    const lookup = pinnedLookup({ address: '93.184.215.14', family: 4 }) as unknown as (host: string, options: { all?: boolean }, cb: (err: unknown, address: unknown, family?: number) => void) => void;
    const one = await new Promise((resolve) => lookup('elsewhere.example', {}, (_err, address, family) => resolve([address, family])));
    expect(one).to.deep.equal(['93.184.215.14', 4]);
    const all = await new Promise((resolve) => lookup('elsewhere.example', { all: true }, (_err, addresses) => resolve(addresses)));
    expect(all).to.deep.equal([{ address: '93.184.215.14', family: 4 }]);
  });
});
