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

/**
 * Encoded before Transport existed (by the generated code of the contract without it), frozen: a
 * peer learned and a decision from an older sensor or brain. They must decode as TRANSPORT_BOTH.
 */
const GOLDEN_PRE_TRANSPORT_PEER_HEX =
  '0a150a06736974652d6112036777312206696e737430331009190080a0af6db779422a3812360a04cb00710910cb1b1a0966617374747261636b2208' +
  '7564702d70696e672a04c0a8010531000062af6db77942390000a277aeb97942';
const GOLDEN_PRE_TRANSPORT_DECISION_HEX =
  '0a19656e64706f696e743a3230332e302e3131332e393a3335333110011a04cb00710920cb1b30013801423366617374747261636b20706565722' +
  '06c6561726e656420766961207564702d70696e6720627920736974652d612f6777312f304a520a12736974652d612f3139322e3136382e312e35' +
  '1206736974652d611a0c736974652d612f6777312f3022127369672e66617374747261636b2e70656572280131000062af6db7794239000062af6d' +
  'b77942510080a0af6db77942590080e077aeb97942620d70327077616c6c2d627261696e';

/** Added with Transport: a peer learned over UDP (PeerLearned.transport = 8) and a UDP-only block (Decision.transport = 14), frozen. */
const GOLDEN_UDP_PEER_HEX =
  '0a150a06736974652d6112036777312206696e73743034100a19008011b26db779422a4412420a04cb00710a10cb1b1a0966617374747261636b2212' +
  '66617374747261636b2f7564702d70696e672a04c0a80105310000d3b16db77942390000137aaeb979424002';
const GOLDEN_UDP_DECISION_HEX =
  '0a1e656e64706f696e743a7564703a3230332e302e3131332e31303a3335333110011a04cb00710a20cb1b30013801423d66617374747261636b2070' +
  '656572206c6561726e6564207669612066617374747261636b2f7564702d70696e6720627920736974652d612f6777312f304a520a12736974652d' +
  '612f3139322e3136382e312e351206736974652d611a0c736974652d612f6777312f30221266617374747261636b2f7564702d70696e6728013100' +
  '00d3b16db77942390000d3b16db7794251008011b26db77942590080517aaeb97942620d70327077616c6c2d627261696e7002';

function goldenUdpPeerBatch() {
  return SummaryBatch.create({
    sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'inst04' },
    sequence: 10,
    createdMs: 1767225631000,
    events: [{ peer: { ip: Uint8Array.from([203, 0, 113, 10]), port: 3531, protocol: 'fasttrack', via: 'fasttrack/udp-ping', learnedFrom: Uint8Array.from([192, 168, 1, 5]), tsMs: 1767225630000, expiresMs: 1767830430000, transport: p2pwall.v1.Transport.TRANSPORT_UDP } }],
  });
}

function goldenUdpDecision() {
  return Decision.create({
    id: 'endpoint:udp:203.0.113.10:3531',
    scope: p2pwall.v1.Scope.SCOPE_ENDPOINT,
    ip: Uint8Array.from([203, 0, 113, 10]),
    port: 3531,
    origin: p2pwall.v1.Origin.ORIGIN_SIGNATURE,
    action: p2pwall.v1.Action.ACTION_BLOCK,
    reason: 'fasttrack peer learned via fasttrack/udp-ping by site-a/gw1/0',
    evidence: { hosts: ['site-a/192.168.1.5'], sites: ['site-a'], sensors: ['site-a/gw1/0'], rules: ['fasttrack/udp-ping'], count: 1, firstSeenMs: 1767225630000, lastSeenMs: 1767225630000 },
    createdMs: 1767225631000,
    expiresMs: 1767830431000,
    author: 'p2pwall-brain',
    transport: p2pwall.v1.Transport.TRANSPORT_UDP,
  });
}

/**
 * Added with Heartbeat.stopping = 15 (a sensor's last heartbeat before a clean stop) and
 * Evidence.packet = 6 (which packet gave the evidence), frozen.
 */
const GOLDEN_STOPPING_HEARTBEAT_HEX = '0a150a06736974652d6112036777312206696e737430351205302e312e30180121000044b46db779427801';
const GOLDEN_EVIDENCE_PACKET_HEX =
  '0a0966617374747261636b121266617374747261636b2f7564702d70696e671a28756470203139322e3136382e312e353a33353331203e203230332e302e3131332e313a34313437372a0d6e6574776f726b204b615a61413007';

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

  it('keeps the values of Transport, and decodes a peer and a decision encoded before it existed as TRANSPORT_BOTH', () => {
    expect(p2pwall.v1.Transport).toMatchObject({ TRANSPORT_BOTH: 0, TRANSPORT_TCP: 1, TRANSPORT_UDP: 2 });
    const peer = SummaryBatch.decode(Buffer.from(GOLDEN_PRE_TRANSPORT_PEER_HEX, 'hex')).events[0]!.peer!;
    expect(peer).toMatchObject({ port: 3531, protocol: 'fasttrack', via: 'udp-ping', tsMs: 1767225620000, expiresMs: 1767830420000, transport: p2pwall.v1.Transport.TRANSPORT_BOTH });
    const decision = Decision.decode(Buffer.from(GOLDEN_PRE_TRANSPORT_DECISION_HEX, 'hex'));
    expect(decision).toMatchObject({ id: 'endpoint:203.0.113.9:3531', port: 3531, author: 'p2pwall-brain', transport: p2pwall.v1.Transport.TRANSPORT_BOTH });
    expect(decision.evidence!.rules).toEqual(['sig.fasttrack.peer']);
    // both is the default: a message of today that says both is byte for byte what an older one said
    expect(Buffer.from(Decision.encode({ ...Decision.toObject(decision), transport: p2pwall.v1.Transport.TRANSPORT_BOTH }).finish()).toString('hex')).toBe(GOLDEN_PRE_TRANSPORT_DECISION_HEX);
  });

  it('encodes and decodes a UDP peer and a UDP-only decision to their frozen bytes', () => {
    expect(Buffer.from(SummaryBatch.encode(goldenUdpPeerBatch()).finish()).toString('hex')).toBe(GOLDEN_UDP_PEER_HEX);
    expect(Buffer.from(Decision.encode(goldenUdpDecision()).finish()).toString('hex')).toBe(GOLDEN_UDP_DECISION_HEX);
    const batch = SummaryBatch.decode(Buffer.from(GOLDEN_UDP_PEER_HEX, 'hex'));
    expect(SummaryBatch.toObject(batch, { defaults: true, bytes: String })).toEqual(SummaryBatch.toObject(goldenUdpPeerBatch(), { defaults: true, bytes: String }));
    expect(batch.events[0]!.peer!.transport).toBe(p2pwall.v1.Transport.TRANSPORT_UDP);
    const decision = Decision.decode(Buffer.from(GOLDEN_UDP_DECISION_HEX, 'hex'));
    expect(Decision.toObject(decision, { defaults: true, bytes: String })).toEqual(Decision.toObject(goldenUdpDecision(), { defaults: true, bytes: String }));
    expect(decision.transport).toBe(p2pwall.v1.Transport.TRANSPORT_UDP);
  });

  it('encodes a UDP-only network block of one site to its frozen bytes (SCOPE_NETWORK 4, prefix_length 15), and reads it back whole', () => {
    const network = { id: 'net:udp:203.0.113.0/28@b', scope: p2pwall.v1.Scope.SCOPE_NETWORK, ip: Uint8Array.from([203, 0, 113, 0]), site: 'b', origin: p2pwall.v1.Origin.ORIGIN_MANUAL, action: p2pwall.v1.Action.ACTION_BLOCK, reason: 'cidr', createdMs: 1767225600000, expiresMs: 1767830400000, author: 'ops', transport: p2pwall.v1.Transport.TRANSPORT_UDP, prefixLength: 28 };
    expect(p2pwall.v1.Scope.SCOPE_NETWORK).toBe(4);
    const hex = Buffer.from(Decision.encode(network).finish()).toString('hex');
    expect(hex).toBe('0a186e65743a7564703a3230332e302e3131332e302f3238406210041a04cb0071002a01623003380142046369647251000080aa6db77942590000c072aeb9794262036f70737002781c');
    const decoded = Decision.decode(Buffer.from(hex, 'hex'));
    expect(decoded).toMatchObject({ scope: p2pwall.v1.Scope.SCOPE_NETWORK, prefixLength: 28, site: 'b', transport: p2pwall.v1.Transport.TRANSPORT_UDP });
    expect([...decoded.ip]).toEqual([203, 0, 113, 0]);
    // Every other decision leaves the field out: their bytes are those of before.
    expect(Decision.decode(Buffer.from(GOLDEN_UDP_DECISION_HEX, 'hex')).prefixLength).toBe(0);
  });

  it('rejects bytes that are not a message with an error, not a crash', () => {
    expect(() => SummaryBatch.decode(Buffer.from('ffffffffffffffffffff', 'hex'))).toThrow();
  });

  it('encodes a stopping heartbeat and evidence with its packet to their frozen bytes; without the fields they decode as not stopping and packet 0', () => {
    const { Heartbeat, Evidence } = p2pwall.v1;
    const beat = { sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'inst05' }, version: '0.1.0', mode: p2pwall.v1.Mode.MODE_ENFORCE, sentMs: 1767225640000 };
    expect(Buffer.from(Heartbeat.encode({ ...beat, stopping: true }).finish()).toString('hex')).toBe(GOLDEN_STOPPING_HEARTBEAT_HEX);
    expect(Heartbeat.decode(Buffer.from(GOLDEN_STOPPING_HEARTBEAT_HEX, 'hex')).stopping).toBe(true);
    // a heartbeat of an older sensor is the same bytes without field 15 (tag 0x78): not stopping
    const older = Buffer.from(GOLDEN_STOPPING_HEARTBEAT_HEX.slice(0, -4), 'hex');
    expect(Buffer.from(Heartbeat.encode(beat).finish())).toEqual(older);
    expect(Heartbeat.decode(older)).toMatchObject({ version: '0.1.0', stopping: false });
    const evidence = { protocol: 'fasttrack', rule: 'fasttrack/udp-ping', flow: 'udp 192.168.1.5:3531 > 203.0.113.1:41477', supporting: false, detail: 'network KaZaA' };
    expect(Buffer.from(Evidence.encode({ ...evidence, packet: 7 }).finish()).toString('hex')).toBe(GOLDEN_EVIDENCE_PACKET_HEX);
    expect(Evidence.decode(Buffer.from(GOLDEN_EVIDENCE_PACKET_HEX.slice(0, -4), 'hex'))).toMatchObject({ ...evidence, packet: 0 });
  });
});
