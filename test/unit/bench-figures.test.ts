import { expect } from 'chai';
import { figure } from '../../bench/section.js';

describe('bench: how a target prints its figure', () => {
  it('prints two decimals, and three when two would round it onto the other side of its goal', () => {
    expect(figure(0.934, 0.92)).to.equal('0.93');
    expect(figure(0.3996, 0.4)).to.equal('0.400');
    expect(figure(0.4, 0.4)).to.equal('0.40');
    expect(figure(0.917, 0.92)).to.equal('0.917');
    expect(figure(0.914, 0.92)).to.equal('0.91');
    expect(figure(1.504, 1.5, true)).to.equal('1.504');
    expect(figure(1.496, 1.5, true)).to.equal('1.50');
  });
});
