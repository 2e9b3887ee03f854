import { describe, expect, it } from 'vitest';
import { DirectConnectModule, DirectConnectRule, DirectConnectVia, MAX_COMMAND } from '../../src/detect/direct-connect/direct-connect.js';
import { protocolModules } from '../../src/detect/registry.js';
import { accepted, allAccepted, expectNothing, noModuleState, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck } from '../support/detector-harness.js';
import { SKIP_SHARED } from '../analyze/support.js';
import { evidenceIn } from '../support/capture-evidence.js';
import { ACK, PSH, bittorrent as bt, tcp, udp, type Endpoints } from '@p2pwall/lab';

/** An inside client, its hub (ADC's 1511, NMDC's 411) and another client. */
const ADC_HUB: Endpoints = { src: '10.0.0.5', dst: '203.0.113.180', sport: 46860, dport: 1511 };
const NMDC_HUB: Endpoints = { src: '10.0.0.5', dst: '198.51.100.41', sport: 46861, dport: 411 };
const PEER: Endpoints = { src: '10.0.0.5', dst: '198.51.100.180', sport: 59916, dport: 41412 };

/**
 * ADC as ncdc 1.23.1 and uhub 0.4.1 spoke it in the lab (captured with tcpdump; the outside
 * peer's I4 changed from the capture's 203.0.113.180 to its own address).
 */
const ADC_LOGIN =
  'HSUP ADBASE ADTIGR\n' +
  'BINF AAAC ID44YEDVMB2YHGTVDF65ODBYS4N3WDM57VIJTCXZA PDZ6LP4VGMCHJT5GMJILJ2VTTNN33UCOGTRPPJK2A VEncdc\\s1.23.1 NIinsideclient KPSHA256/Q3NLLCCZ3SMJZXAGCY25O7MOW4Z77FU3R5ETQ3DILWBPPDMY6GBA I40.0.0.0 SU U4 SS0 SF0 SL3 FS3 HN0 HR0 HO0 DE EM\n';
const ADC_HUB_ANSWER =
  'ISUP ADBASE ADTIGR ADPING ADUCMD\n' +
  'ISID AAAC\n' +
  'IINF CT32 VEuhub/0.4.1-release NIp2pwall\\slab\\shub DEno\\sdescription\n' +
  'BINF AAAB IDRTBZIUMO3MVXGOFWARAVX2WIIYEIHB3GYLOZEHQ VEncdc\\s1.23.1 NIoutsidepeer KPSHA256/LU7JDY5UWUK6QJBTUWGON6JIAKJ3YHQQBMO3OMCBOVY4JZDG7D4A SUTCP4,UDP4 U441412 SL3 FS3 HR0 HO0 DE EM I4198.51.100.180 SS2000000 SF1 HN1\n' +
  'BINF AAAC ID44YEDVMB2YHGTVDF65ODBYS4N3WDM57VIJTCXZA VEncdc\\s1.23.1 NIinsideclient SU U4 SS0 SF0 SL3 FS3 HN0 HR0 HO0 DE EM I4203.0.113.9\n';
const ADC_RCM = 'DRCM AAAC AAAB ADC/1.0 MFFMCSXAF57AE\n';
const ADC_CTM = 'DCTM AAAB AAAC ADC/1.0 41412 MFFMCSXAF57AE\n';
const ADC_PEER = 'CSUP ADBASE ADTIGR ADBZIP ADZLIG\nCSTA 000 referrer RFadc://203.0.113.180:1511\nCINF ID44YEDVMB2YHGTVDF65ODBYS4N3WDM57VIJTCXZA TOMFFMCSXAF57AE\nCGET file files.xml.bz2 0 -1\n';

/**
 * NMDC as ncdc 1.23.1 sent it (captured on loopback against a listener that spoke a hub's first
 * words: no NMDC hub is packaged in Debian); the hub's side as the protocol documents it.
 */
const NMDC_LOCK = '$Lock EXTENDEDPROTOCOL_verlihub Pk=version1.0.0|$HubName lab hub|';
const NMDC_LOGIN = Buffer.from(
  '24537570706f727473204e6f476574494e464f204e6f48656c6c6f205573657249503220544c537c244b65792075d1c011b0a010104120d1b1b1c0c030319370a0e0d0d1717c2456616c69646174654e69636b20696e73696465636c69656e747c',
  'hex',
).toString('latin1');
const NMDC_INFO = '$Version 1,0091|$MyINFO $ALL insideclient <ncdc V:1.23.1,M:P,H:1/0/0,S:3>$ $0.005\u0001$$0$|$GetNickList|';
const NMDC_HELLO = '$Hello insideclient|$MyINFO $ALL outsidepeer <ncdc V:1.23,M:A,H:1/0/0,S:3>$ $100\u0001$$2000000$|';
const NMDC_CTM = '$ConnectToMe insideclient 198.51.100.180:41412|';
const NMDC_SEARCH = '$Search 203.0.113.77:41500 F?T?0?9?TTH:WCWSRSOB6CDE2R3XQS5JWUVHW34DG2OELHPG3RA|$Search Hub:someone F?F?0?1?lab|';
/** ncdc's first segment to a peer that asked it to connect ($ConnectToMe). */
const NMDC_PEER = '$MyNick insideclient|';

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new DirectConnectModule()] });
}

function segment(ends: Endpoints, payload: Uint8Array | string, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload: typeof payload === 'string' ? latin1(payload) : payload });
}

/** NMDC text is bytes (the $Key is binary-ish Latin-1): one byte per character. */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

/** A whole hub session from the inside client's side: its login, the hub's answer, the relayed connect request. */
function adcSession(h: DetectorHarness) {
  return h.feedAll([
    tcpSyn(ADC_HUB),
    tcpSynAck(ADC_HUB),
    segment(ADC_HUB, ADC_LOGIN),
    segment(reversed(ADC_HUB), ADC_HUB_ANSWER, 5000),
    segment(ADC_HUB, ADC_RCM, 1000 + ADC_LOGIN.length),
    segment(reversed(ADC_HUB), ADC_CTM, 5000 + ADC_HUB_ANSWER.length),
  ]);
}

describe('Direct Connect: ADC', () => {
  it('the hub login (HSUP) identifies the client and learns the hub; the relayed DCTM names the peer at its INF’s I4 (TCP), the INFs their UDP ports', () => {
    const h = harness();
    const results = adcSession(h);
    // The login; the hub's answer (ISUP, with the INFs' UDP ports); the DCTM's peer.
    expect(allAccepted(results)).toEqual([DirectConnectRule.adcHubLogin, DirectConnectRule.adcHub, DirectConnectRule.adcHubLogin]);
    expect(peerKeys(h, DirectConnectVia.adcConnectToMe)).toEqual(['198.51.100.180:41412/tcp']);
    expect(peerKeys(h, DirectConnectVia.adcInf)).toEqual(['198.51.100.180:41412/udp']);
    // The hub itself, and never the client's own INF (the address the hub saw for it).
    expect(peerKeys(h)).toContain('203.0.113.180:1511/tcp');
    expect(peerKeys(h).some((key) => key.startsWith('203.0.113.9:'))).toBe(false);
  });

  it('a DCTM from a user whose INF was not seen names nobody; nor does a DCTM the client itself sends', () => {
    const h = harness();
    h.feedAll([segment(ADC_HUB, ADC_LOGIN), segment(reversed(ADC_HUB), 'ISUP ADBASE ADTIGR\nISID AAAC\n', 5000), segment(reversed(ADC_HUB), ADC_CTM, 5100), segment(ADC_HUB, 'DCTM AAAC AAAB ADC/1.0 40000 TOKEN\n', 1000 + ADC_LOGIN.length)]);
    expect(peerKeys(h, DirectConnectVia.adcConnectToMe)).toEqual([]);
  });

  it('the hub’s answer alone, on a flow the client did not log in on, counts for nothing', () => {
    const h = harness();
    const results = h.feedAll([tcpSyn(ADC_HUB), tcpSynAck(ADC_HUB), segment(ADC_HUB, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), segment(reversed(ADC_HUB), ADC_HUB_ANSWER + ADC_CTM, 5000)]);
    expect(allAccepted(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
    // A hub that called in (an outside host opened the flow) is not believed either.
    const inbound = harness();
    const caller = reversed(ADC_HUB);
    expect(allAccepted(inbound.feedAll([tcpSyn(caller), tcpSynAck(caller), segment(caller, ADC_HUB_ANSWER + ADC_CTM)]))).toEqual([]);
    expect(peerKeys(inbound)).toEqual([]);
  });

  it('a client-to-client connection (CSUP) identifies and learns the other client for TCP', () => {
    const h = harness();
    const [result] = h.feedAll([segment(PEER, ADC_PEER)]);
    expect(accepted(result!)).toEqual([DirectConnectRule.adcPeer]);
    expect(peerKeys(h)).toEqual(['198.51.100.180:41412/tcp']);
  });

  it('a login split over segments (even inside “HSUP”) is read once whole; the kept bytes are given back', () => {
    for (const cut of [2, 7, 19, 60, ADC_LOGIN.length - 1]) {
      const h = harness();
      const results = h.feedAll(tcpSegments(ADC_LOGIN, { ...ADC_HUB, cuts: [cut] }));
      expect(returned(results), `cut at ${cut}`).toEqual([DirectConnectRule.adcHubLogin]);
      expect(h.engine.moduleBuffers.held, 'nothing kept once the command was read').toBe(0);
    }
    // A hub answer split inside the peer's INF still names it once the DCTM arrives.
    const h = harness();
    const answer = ADC_HUB_ANSWER + ADC_CTM;
    const cut = answer.indexOf('I4198');
    h.feedAll([segment(ADC_HUB, ADC_LOGIN), ...tcpSegments(answer, { ...reversed(ADC_HUB), seq: 5000, cuts: [cut] })]);
    expect(peerKeys(h, DirectConnectVia.adcConnectToMe)).toEqual(['198.51.100.180:41412/tcp']);
  });

  it('stops reading at file data (CSND) and frees its state', () => {
    const h = harness();
    const results = h.feedAll([segment(PEER, ADC_PEER), segment(reversed(PEER), 'CSUP ADBASE ADTIGR\nCINF IDRTBZIUMO3MVXGOFWARAVX2WIIYEIHB3GYLOZEHQ\nCSND file files.xml.bz2 0 290\nBZh91AY&SY', 5000)]);
    expect(returned(results)).toEqual([DirectConnectRule.adcPeer]);
    expect(noModuleState(results[1]!)).toBe(false); // the client's direction may still speak
    const closed = h.feedAll([segment(PEER, 'CGET file TTH/WCWSRSOB6CDE2R3XQS5JWUVHW34DG2OELHPG3RA 0 131072\n', 1000 + ADC_PEER.length)]);
    expect(returned(closed)).toEqual([]);
  });
});

describe('Direct Connect: NMDC', () => {
  it('the hub speaks first ($Lock); the client’s $Key/$ValidateNick identify it; $ConnectToMe names the peer (TCP), an active $Search the searcher (UDP)', () => {
    const h = harness();
    const results = h.feedAll([
      tcpSyn(NMDC_HUB),
      tcpSynAck(NMDC_HUB),
      segment(reversed(NMDC_HUB), NMDC_LOCK, 5000),
      segment(NMDC_HUB, NMDC_LOGIN),
      segment(reversed(NMDC_HUB), NMDC_HELLO + NMDC_CTM + NMDC_SEARCH, 5000 + NMDC_LOCK.length),
      segment(NMDC_HUB, NMDC_INFO, 1000 + NMDC_LOGIN.length),
    ]);
    expect(returned(results.slice(0, 3))).toEqual([DirectConnectRule.nmdcLock]);
    expect(accepted(results[2]!)).toEqual([]); // unanswered: the client has said nothing yet
    expect(accepted(results[3]!)).toEqual([DirectConnectRule.nmdcHubLogin]);
    expect(peerKeys(h, DirectConnectVia.nmdcConnectToMe)).toEqual(['198.51.100.180:41412/tcp']);
    expect(peerKeys(h, DirectConnectVia.nmdcSearch)).toEqual(['203.0.113.77:41500/udp']);
    expect(peerKeys(h)).toContain('198.51.100.41:411/tcp');
  });

  it('$ValidateNick alone, and $Key first, identify the hub login', () => {
    for (const login of ['$ValidateNick someone|', '$Key abc|$ValidateNick someone|']) {
      const h = harness();
      expect(accepted(h.feed(segment(NMDC_HUB, login)))).toEqual([DirectConnectRule.nmdcHubLogin]);
    }
  });

  it('a hub stream that does not open with $Lock (or another opener) is not read', () => {
    const h = harness();
    h.feedAll([segment(NMDC_HUB, NMDC_LOGIN), segment(reversed(NMDC_HUB), NMDC_CTM, 5000)]);
    expect(peerKeys(h, DirectConnectVia.nmdcConnectToMe)).toEqual([]);
  });

  it('a $ConnectToMe with a TLS mark (port then S) still names the peer; malformed ones name nobody', () => {
    const h = harness();
    h.feedAll([segment(NMDC_HUB, NMDC_LOGIN), segment(reversed(NMDC_HUB), NMDC_LOCK + '$ConnectToMe insideclient 198.51.100.181:41413S|$ConnectToMe insideclient 300.1.1.1:5|$ConnectToMe insideclient 198.51.100.182:0|$ConnectToMe insideclient 198.51.100.183|', 5000)]);
    expect(peerKeys(h, DirectConnectVia.nmdcConnectToMe)).toEqual(['198.51.100.181:41413/tcp']);
  });

  it('a client-to-client handshake ($MyNick, $Lock) identifies and learns the other client', () => {
    const h = harness();
    expect(accepted(h.feed(segment(PEER, NMDC_PEER)))).toEqual([DirectConnectRule.nmdcPeer]);
    expect(peerKeys(h)).toEqual(['198.51.100.180:41412/tcp']);
  });

  it('a login split over segments is read once whole', () => {
    for (const cut of [1, 5, 12, 70]) {
      const h = harness();
      expect(allAccepted(h.feedAll(tcpSegments(latin1(NMDC_LOGIN), { ...NMDC_HUB, cuts: [cut] }))), `cut at ${cut}`).toEqual([DirectConnectRule.nmdcHubLogin]);
    }
  });

  it('a command longer than MAX_COMMAND after the opener (a hub’s $NickList) is skipped, and what follows is still read', () => {
    const h = harness();
    const nickList = `$NickList ${Array.from({ length: 400 }, (_, i) => `user${i}`).join('$$')}$$|`;
    expect(nickList.length).toBeGreaterThan(MAX_COMMAND);
    const answer = `${NMDC_LOCK}$Hello insideclient|${nickList}${NMDC_CTM}`;
    h.feedAll([segment(NMDC_HUB, NMDC_LOGIN), ...tcpSegments(answer, { ...reversed(NMDC_HUB), seq: 5000, cuts: [30, 1500, 3000] })]);
    expect(peerKeys(h, DirectConnectVia.nmdcConnectToMe)).toEqual(['198.51.100.180:41412/tcp']);
  });
});

describe('Direct Connect: UDP search results', () => {
  const SEARCHER = { src: '10.0.0.5', dst: '203.0.113.77', sport: 41412, dport: 41500 };
  it('an NMDC $SR and an ADC URES from inside identify', () => {
    const h = harness();
    const sr = latin1('$SR insideclient lab\\lab-content.bin\u00052000000 3/3\u0005TTH:WCWSRSOB6CDE2R3XQS5JWUVHW34DG2OELHPG3RA (203.0.113.180:411)|');
    expect(accepted(h.feed(udp({ ...SEARCHER, payload: sr })))).toEqual([DirectConnectRule.nmdcUdp]);
    const ures = latin1('URES 44YEDVMB2YHGTVDF65ODBYS4N3WDM57VIJTCXZA FN/lab/lab-content.bin SI2000000 SL3 TRWCWSRSOB6CDE2R3XQS5JWUVHW34DG2OELHPG3RA\n');
    expect(accepted(harness().feed(udp({ ...SEARCHER, sport: 41413, payload: ures })))).toEqual([DirectConnectRule.adcUdp]);
  });

  it('look-alikes: no terminator, a control byte, a short CID, a well-known port', () => {
    expectNothing(harness, [
      udp({ ...SEARCHER, payload: latin1('$SR insideclient a\u00052 3/3\u0005hub') }),
      udp({ ...SEARCHER, sport: 40001, payload: latin1('$SR insideclient a\u0000b\u00052|') }),
      udp({ ...SEARCHER, sport: 40002, payload: latin1('URES ABC FNx\n') }),
      udp({ ...SEARCHER, sport: 40003, dport: 53, payload: latin1('URES 44YEDVMB2YHGTVDF65ODBYS4N3WDM57VIJTCXZA FNx\n') }),
    ]);
  });
});

describe('Direct Connect: look-alikes', () => {
  const WEB: Endpoints = { src: '10.0.0.5', dst: '198.51.100.80', sport: 40001, dport: 80 };
  it('HTTP, SMTP, IRC (ISON, INFO, NICK), Redis ($-lengths), TLS to a hub port, an ADC-like word without SUP', () => {
    const clientHello = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...bt.randomBytes(500, 11)]);
    const conversations: [Endpoints, string | Uint8Array, string | Uint8Array][] = [
      [WEB, 'GET / HTTP/1.1\r\nHost: example\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'],
      [{ ...WEB, dport: 25 }, 'EHLO client.example\r\nMAIL FROM:<a@b>\r\n', '220 mx.example ESMTP\r\n250-mx\r\n'],
      [{ ...WEB, dport: 6667 }, 'NICK someone\r\nUSER a 0 * :A\r\nISON x y\r\nINFO\r\n', ':irc.example 001 someone :Welcome\r\n'],
      [{ ...WEB, dport: 6379 }, '*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n', '$5\r\nvalue\r\n'],
      [{ ...WEB, dport: 1511 }, clientHello, Uint8Array.from([0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, ...bt.randomBytes(90, 12)])],
      [{ ...WEB, dport: 411 }, clientHello, 'HELLO world\nISUP\n'],
      [{ ...WEB, dport: 4000 }, 'HSUP\n', 'CSUP AD\u0001BASE\n'],
      [{ ...WEB, dport: 4001 }, '$Lock no key here|', '$Unknown thing|'],
      [{ ...WEB, dport: 4002 }, '$MyNick two words|', '$ValidateNick |'],
    ];
    conversations.forEach(([ends, out, back], i) => {
      const e = { ...ends, sport: 40100 + i };
      expectNothing(harness, [tcpSyn(e), tcpSynAck(e), segment(e, out), segment(reversed(e), back, 5000)]);
    });
  });

  it('keeps no state for a web flow: an HTTP answer starts with H as HSUP does, and is not read', () => {
    const e = { ...WEB, sport: 40200 };
    const results = harness().feedAll([tcpSyn(e), tcpSynAck(e), segment(e, 'GET / HTTP/1.1\r\nHost: example\r\n\r\n'), segment(reversed(e), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi', 5000)]);
    expect(returned(results)).toEqual([]);
    for (const result of results) expect(result.flow.moduleStates).toBeNull();
  });

  it('random bytes that start with $, H, I or C', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      const first = [0x24, 0x48, 0x49, 0x43][i % 4]!;
      const e = { ...WEB, dport: 1511, sport: 20000 + i };
      packets.push(segment(e, Uint8Array.from([first, ...bt.randomBytes(1 + (i % 1400), 900 + i)])));
    }
    expectNothing(harness, packets);
  });

  it('never throws on truncations and corruptions of the captured session', () => {
    const whole = latin1(ADC_LOGIN + ADC_HUB_ANSWER + NMDC_LOGIN);
    for (let i = 0; i < 300; i++) {
      const copy = whole.slice(0, 1 + ((i * 37) % whole.length));
      for (const at of bt.randomBytes(4, i)) copy[at % copy.length] = bt.randomBytes(1, i + 7)[0]!;
      const h = harness();
      h.feedAll([segment({ ...ADC_HUB, sport: 30000 + i }, copy), segment(reversed({ ...ADC_HUB, sport: 30000 + i }), copy, 5000)]);
    }
  });

  it.skipIf(SKIP_SHARED !== '')(`the ordinary shared captures show no Direct Connect${SKIP_SHARED ? ` (${SKIP_SHARED})` : ''}`, () => {
    for (const name of ['http.pcapng', '443-curl.pcap', 'dns.pcap', 'quic.pcap', 'ssh.pcap', 'NTPv4.pcap', 'ftp.pcap']) {
      expect(evidenceIn(name, harness()), name).toEqual([]);
    }
  });
});

describe('the registry', () => {
  it('runs the Direct Connect module', () => {
    expect(protocolModules.some((module) => module.name === 'direct-connect')).toBe(true);
  });
});
