import { describe, expect, it } from 'vitest';
import type { Evidence } from '../../src/detect/module.js';
import { Flow } from '../../src/track/flow.js';
import { EvidenceTrust, evidenceTrust, mayNamePeers } from '../../src/trust.js';

const BIT = 1 << 2;
const identifying: Evidence = { rule: 'toy/magic', supporting: false, transport: 'udp' };
const supporting: Evidence = { rule: 'toy/hint', supporting: true, transport: 'udp' };

function flow(options: { initiatorInside: boolean; ownLabels?: number }): Flow {
  const made = new Flow('k', 17, 4, 'in', 1000, 'out', 2000, true);
  made.initiatorInside = options.initiatorInside;
  made.ownLabels = options.ownLabels ?? 0;
  return made;
}

describe('evidence trust (pure)', () => {
  const noPeer = (): boolean => false;
  const peer = (): boolean => true;

  it.each([
    ['the inside host\'s own packet, on its flow', { initiatorInside: true }, true, identifying, noPeer, EvidenceTrust.accepted],
    ['the inside host\'s own answer, on a flow outside opened', { initiatorInside: false }, true, identifying, noPeer, EvidenceTrust.accepted],
    ['from outside, on a flow outside opened', { initiatorInside: false, ownLabels: BIT }, false, identifying, peer, EvidenceTrust.unsolicited],
    ['a reply to nothing of that protocol', { initiatorInside: true, ownLabels: 1 << 3 }, false, identifying, peer, EvidenceTrust.unanswered],
    ['a reply to the same protocol', { initiatorInside: true, ownLabels: BIT }, false, identifying, noPeer, EvidenceTrust.accepted],
    ['supporting, towards a learned peer', { initiatorInside: true }, false, supporting, peer, EvidenceTrust.accepted],
    ['supporting, towards no learned peer', { initiatorInside: true, ownLabels: BIT }, true, supporting, noPeer, EvidenceTrust.supporting],
    ['supporting, on a flow outside opened', { initiatorInside: false }, false, supporting, peer, EvidenceTrust.supporting],
  ] as const)('%s', (_title, shape, fromInside, evidence, leadsToPeer, expected) => {
    expect(evidenceTrust(flow(shape), fromInside, BIT, evidence, leadsToPeer)).toBe(expected);
  });

  it('lets a payload name peers only on a flow that is the module\'s by the host\'s own traffic, never from supporting evidence', () => {
    expect(mayNamePeers(flow({ initiatorInside: true, ownLabels: BIT }), BIT, identifying)).toBe(true);
    expect(mayNamePeers(flow({ initiatorInside: true }), BIT, identifying)).toBe(false);
    expect(mayNamePeers(flow({ initiatorInside: true, ownLabels: BIT }), BIT, supporting)).toBe(false);
  });
});
