import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';

const { SummaryBatch, Decision, BlocklistChange } = p2pwall.v1;

/**
 * A batch encoded once and frozen here. If an edit of p2pwall.proto renumbers or retypes a
 * field, these bytes no longer decode to the same values and this test fails: field numbers are
 * the contract with every deployed sensor and brain.
 */
const GOLDEN_BATCH_HEX =
  '0a150a06736974652d6112036777312206696e737430311007190080beaa6db7794222590a04c0a8010510cb1b1a04cb7100092087c4022806300139' +
  '000080aa6db7794241004086aa6db779424801500c580b720966617374747261636b7a087564702d70696e678001028a01097369676e617475726590' +
  '0101a001032a3e0a3c0a04c0a80105120966617374747261636b1a150a0966617374747261636b12087564702d70696e67210000a0aa6db779422900' +
  '00ccc76db779423001';

function goldenBatch() {
  return SummaryBatch.create({
    sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'inst01' },
    sequence: 7,
    createdMs: 1767225601000,
    flows: [
      {
        insideIp: Uint8Array.from([192, 168, 1, 5]),
        insidePort: 3531,
        outsideIp: Uint8Array.from([203, 113, 0, 9]),
        outsidePort: 41479,
        protocol: 6,
        initiatorInside: true,
        firstSeenMs: 1767225600000,
        lastSeenMs: 1767225600100,
        packetsOut: 1,
        bytesOut: 12,
        packetsIn: 11,
        bytesIn: 0,
        answered: false,
        app: 'fasttrack',
        rules: ['udp-ping'],
        verdict: p2pwall.v1.Verdict.VERDICT_DROP,
        reason: 'signature',
        droppedPackets: 1,
        end: p2pwall.v1.FlowEnd.FLOW_END_FLUSHED,
      },
    ],
    events: [{ client: { host: Uint8Array.from([192, 168, 1, 5]), protocol: 'fasttrack', evidence: [{ protocol: 'fasttrack', rule: 'udp-ping' }], tsMs: 1767225600512, lockedUntilMs: 1767225720000, hostPackets: 1 } }],
  });
}

/**
 * Added with FLOW_END_ONGOING (an interim summary of a live flow: an attempt to a blocked peer,
 * reported as soon as its first packet was dropped). Frozen like the batch above.
 */
const GOLDEN_ONGOING_HEX =
  '0a150a06736974652d6212036777312206696e7374303210031900802fad6db7794222450a04c0a8020610f8ba021a04cb00710920cb1b2806300139' +
  '0000f1ac6db77942410000f1ac6db779424801503c8001028a010c6c6561726e65642d70656572900101a00104';

function goldenOngoingBatch() {
  return SummaryBatch.create({
    sensor: { site: 'site-b', gateway: 'gw1', queue: 0, instance: 'inst02' },
    sequence: 3,
    createdMs: 1767225611000,
    flows: [
      {
        insideIp: Uint8Array.from([192, 168, 2, 6]),
        insidePort: 40312,
        outsideIp: Uint8Array.from([203, 0, 113, 9]),
        outsidePort: 3531,
        protocol: 6,
        initiatorInside: true,
        firstSeenMs: 1767225610000,
        lastSeenMs: 1767225610000,
        packetsOut: 1,
        bytesOut: 60,
        verdict: p2pwall.v1.Verdict.VERDICT_DROP,
        reason: 'learned-peer',
        droppedPackets: 1,
        end: p2pwall.v1.FlowEnd.FLOW_END_ONGOING,
      },
    ],
  });
}

describe('wire contract', () => {
  it('decodes the frozen golden batch to the same values', () => {
    const decoded = SummaryBatch.decode(Buffer.from(GOLDEN_BATCH_HEX, 'hex'));
    const expected = goldenBatch();
    expect(SummaryBatch.toObject(decoded, { defaults: true, bytes: String })).toEqual(SummaryBatch.toObject(expected, { defaults: true, bytes: String }));
    expect(decoded.flows[0]!.outsidePort).toBe(41479);
    expect(decoded.events[0]!.client!.lockedUntilMs).toBe(1767225720000);
  });

  it('encodes the golden batch to the frozen bytes', () => {
    expect(Buffer.from(SummaryBatch.encode(goldenBatch()).finish()).toString('hex')).toBe(GOLDEN_BATCH_HEX);
  });

  it('keeps the values of FlowEnd, and encodes and decodes an interim (ongoing) summary to its frozen bytes', () => {
    expect(p2pwall.v1.FlowEnd).toMatchObject({ FLOW_END_UNSPECIFIED: 0, FLOW_END_IDLE: 1, FLOW_END_EVICTED: 2, FLOW_END_FLUSHED: 3, FLOW_END_ONGOING: 4 });
    expect(Buffer.from(SummaryBatch.encode(goldenOngoingBatch()).finish()).toString('hex')).toBe(GOLDEN_ONGOING_HEX);
    const decoded = SummaryBatch.decode(Buffer.from(GOLDEN_ONGOING_HEX, 'hex'));
    expect(SummaryBatch.toObject(decoded, { defaults: true, bytes: String })).toEqual(SummaryBatch.toObject(goldenOngoingBatch(), { defaults: true, bytes: String }));
    expect(decoded.flows[0]!.end).toBe(p2pwall.v1.FlowEnd.FLOW_END_ONGOING);
  });

  it('round-trips decisions and blocklist changes, with 64-bit counters as plain numbers', () => {
    const decision = Decision.create({ id: 'endpoint:203.0.113.9:3531', scope: p2pwall.v1.Scope.SCOPE_ENDPOINT, ip: Uint8Array.from([203, 0, 113, 9]), port: 3531, origin: p2pwall.v1.Origin.ORIGIN_SIGNATURE, action: p2pwall.v1.Action.ACTION_BLOCK, evidence: { count: 2 ** 40, hosts: ['site-a/192.168.1.5'] }, expiresMs: 1767830400000 });
    const change = BlocklistChange.decode(BlocklistChange.encode({ version: 2 ** 33, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, decision }).finish());
    expect(change.version).toBe(2 ** 33);
    expect(change.decision!.evidence!.count).toBe(2 ** 40);
    expect(change.decision!.port).toBe(3531);
  });

  it('rejects bytes that are not a message with an error, not a crash', () => {
    expect(() => SummaryBatch.decode(Buffer.from('ffffffffffffffffffff', 'hex'))).toThrow();
  });
});
