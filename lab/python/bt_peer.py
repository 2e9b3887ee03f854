#!/usr/bin/python3
"""A real BitTorrent peer for the p2pwall lab, driven by libtorrent (Debian: python3-libtorrent).

  bt_peer.py make   --dir D [--size BYTES] [--piece-size BYTES] [--tracker URL ...]
  bt_peer.py seed   --torrent T --data D --listen IP:PORT [--tracker URL ...]
                    [--dht-node IP:PORT ...] [--duration S] [--log FILE]
  bt_peer.py fetch  (--torrent T | --magnet URI) --save D [--listen IP:PORT] [--tracker URL ...]
                    [--dht-node IP:PORT ...] [--peer IP:PORT ...] [--no-dht] [--no-tcp]
                    [--no-utp] [--forced-encryption] [--timeout S]
  bt_peer.py dht-lookup --info-hash H --listen IP:PORT --dht-node IP:PORT ... [--want N]

`make` writes the lab's content (deterministic bytes) and a v1 torrent for it, and prints the
info hash, the magnet link and the piece layout as one JSON object. `seed` serves the content
until SIGTERM or --duration, logging JSON lines (ready, tracker-announced, ...) and printing a
summary. `fetch` downloads until complete or --timeout and prints one JSON summary: how much
payload arrived and how many pieces. `dht-lookup` asks the DHT for the torrent's peers until it
names N of them (exit 0) or time runs out (exit 1).

Every session is isolated: no LSD, UPnP or NAT-PMP, no default DHT bootstrap host, and only the
addresses the caller names. Timeouts are short because the lab is one machine and a test waits.
"""
import argparse
import hashlib
import json
import os
import signal
import sys
import time

import libtorrent as lt

CONTENT_NAME = 'p2pwall-lab.bin'
SEEDER_WARMUP_SECONDS = 8
# peer_info::utp_socket (bit 17 of the flags in libtorrent 2.0), which the Python binding does not name.
UTP_SOCKET = getattr(lt.peer_info, 'utp_socket', 1 << 17)
ALERTS = (
    lt.alert.category_t.error_notification
    | lt.alert.category_t.status_notification
    | lt.alert.category_t.tracker_notification
    | lt.alert.category_t.dht_notification
    | lt.alert.category_t.connect_notification
    | lt.alert.category_t.peer_notification
    | lt.alert.category_t.piece_progress_notification
)


def endpoint(text):
    host, _, port = text.rpartition(':')
    return host.strip('[]'), int(port)


def lab_content(size):
    """The same bytes on every run: SHA-256 in counter mode, so the info hash never changes."""
    blocks = []
    for counter in range((size + 31) // 32):
        blocks.append(hashlib.sha256(b'p2pwall lab torrent %d' % counter).digest())
    return b''.join(blocks)[:size]


# Seconds between the downloader's DHT retries while the DHT has named no peer.
DHT_RETRY_SECONDS = 3


def isolated_settings(listen, dht_nodes, dht):
    """Settings every lab session shares: bound where asked, quick to retry, nothing beyond the lab."""
    return {
        'listen_interfaces': listen,
        'enable_dht': dht,
        'dht_bootstrap_nodes': ','.join(dht_nodes),
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'alert_mask': ALERTS,
        # The lab's peers share two /24s and sit in documentation ranges: a real DHT would treat
        # them as a Sybil cluster or "dark internet" and ignore them.
        'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False,
        'dht_ignore_dark_internet': False,
        'dht_announce_interval': 2,
        # A blocked connect must be retried within a test's seconds, not libtorrent's minutes.
        'min_reconnect_time': 1,
        'peer_connect_timeout': 3,
        'handshake_timeout': 3,
        'tracker_receive_timeout': 3,
        'tracker_completion_timeout': 5,
        'stop_tracker_timeout': 1,
        'allow_multiple_connections_per_ip': True,
        'auto_manage_startup': 1,
        'smooth_connects': False,
        'user_agent': 'p2pwall-lab libtorrent/' + lt.__version__,
    }


def make(args):
    os.makedirs(args.dir, exist_ok=True)
    data = os.path.join(args.dir, CONTENT_NAME)
    content = lab_content(args.size)
    if not (os.path.exists(data) and os.path.getsize(data) == args.size):
        with open(data, 'wb') as out:
            out.write(content)
    files = lt.file_storage()
    files.add_file(CONTENT_NAME, args.size)
    creator = lt.create_torrent(files, args.piece_size, flags=lt.create_torrent.v1_only)
    for tier, url in enumerate(args.tracker):
        creator.add_tracker(url, tier)
    creator.set_creator('p2pwall lab')
    for piece in range(creator.num_pieces()):
        start = piece * args.piece_size
        creator.set_hash(piece, hashlib.sha1(content[start:start + args.piece_size]).digest())
    torrent_path = os.path.join(args.dir, 'lab.torrent')
    torrent = creator.generate()
    # Without a creation date the file itself, not only its info hash, is the same on every run.
    torrent.pop(b'creation date', None)
    with open(torrent_path, 'wb') as out:
        out.write(lt.bencode(torrent))
    info = lt.torrent_info(torrent_path)
    info_hash = str(info.info_hashes().v1)
    print(json.dumps({
        'torrent': torrent_path,
        'data': data,
        'infoHash': info_hash,
        'magnet': 'magnet:?xt=urn:btih:%s&dn=%s' % (info_hash, CONTENT_NAME),
        'size': args.size,
        'pieceLength': info.piece_length(),
        'pieces': info.num_pieces(),
    }))


def seed(args):
    log = JsonLines(args.log)
    settings = isolated_settings(args.listen, args.dht_node, True)
    # Its own connections out leave from its own address too (not from whatever route the
    # kernel picks, which in the lab's internet would be the router's address).
    settings['outgoing_interfaces'] = endpoint(args.listen)[0]
    # A seeder accepts whatever a client asks for: plain text or RC4.
    settings.update({'in_enc_policy': int(lt.enc_policy.enabled), 'out_enc_policy': int(lt.enc_policy.enabled), 'allowed_enc_level': int(lt.enc_level.both)})
    session = lt.session(settings)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.data
    # The content is made, not downloaded: skip the hash check of 16 MiB per seeder.
    params.flags = lt.torrent_flags.seed_mode
    params.trackers = args.tracker
    handle = session.add_torrent(params)
    stop = install_stop()
    started = time.time()
    deadline = started + args.duration
    once = set()
    peers = set()
    contacts = [endpoint(node) for node in args.dht_node]
    next_nudge = 0
    while not stop['now'] and time.time() < deadline:
        session.wait_for_alert(200)
        # Seeders start together, so a bootstrap may find the others not yet listening, and
        # libtorrent would not try again for minutes. For the first seconds, ping every contact
        # and announce again each second, until all of them have answered once.
        if time.time() >= next_nudge and time.time() < started + SEEDER_WARMUP_SECONDS:
            for contact in contacts:
                session.add_dht_node(contact)
            handle.force_dht_announce()
            next_nudge = time.time() + 1
        for alert in session.pop_alerts():
            event = seeder_event(alert, handle, peers)
            # The readiness events (listening, announced to the tracker, announced in the DHT) once each.
            if event and event[0] not in once:
                once.add(event[0])
                log.write(event[0], **event[1])
    status = handle.status()
    summary = {'listen': args.listen, 'uploaded': status.total_payload_upload, 'peers': sorted(peers)}
    log.write('summary', **summary)
    print(json.dumps({'event': 'summary', **summary}), flush=True)


def seeder_event(alert, handle, peers):
    if isinstance(alert, lt.listen_succeeded_alert) and alert.socket_type == lt.socket_type_t.tcp:
        return 'ready', {'listen': '%s:%d' % (alert.address, alert.port)}
    if isinstance(alert, lt.listen_failed_alert):
        return 'listen-failed', {'message': alert.message()}
    if isinstance(alert, lt.dht_bootstrap_alert):
        # Announce at once rather than at the session's next DHT round. (A seed's own lookups
        # ask for no seeds, so whether the DHT holds the swarm is checked by `dht-lookup`.)
        handle.force_dht_announce()
        return 'dht-bootstrapped', {}
    if isinstance(alert, lt.tracker_reply_alert):
        return 'tracker-announced', {'peers': alert.num_peers}
    if isinstance(alert, lt.peer_connect_alert) or isinstance(alert, lt.incoming_connection_alert):
        ip = getattr(alert, 'endpoint', None) or getattr(alert, 'ip', None)
        if ip:
            peers.add('%s:%d' % (ip[0], ip[1]))
    return None


class JsonLines:
    """Events as JSON lines ({ts, event, ...}) in a file the lab reads while the peer runs."""

    def __init__(self, path):
        self.out = open(path, 'a', buffering=1) if path else sys.stdout

    def write(self, event, **fields):
        self.out.write(json.dumps({'ts': int(time.time() * 1000), 'event': event, **fields}) + '\n')
        self.out.flush()


def dht_lookup(args):
    """Asks the DHT for the torrent's peers until it names --want of them: the swarm is findable."""
    settings = isolated_settings(args.listen, args.dht_node, True)
    settings['alert_mask'] = ALERTS | lt.alert.category_t.dht_operation_notification
    # Read-only (BEP 43): the seeders do not keep this short-lived node in their routing tables,
    # where a client's lookup would later wait for it to time out.
    settings['dht_read_only'] = True
    session = lt.session(settings)
    info_hash = lt.sha1_hash(bytes.fromhex(args.info_hash))
    found = set()
    deadline = time.time() + args.timeout
    next_query = 0
    while time.time() < deadline and len(found) < args.want:
        if time.time() >= next_query:
            session.dht_get_peers(info_hash)
            next_query = time.time() + 0.5
        session.wait_for_alert(100)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.dht_get_peers_reply_alert):
                found.update('%s:%d' % (peer[0], peer[1]) for peer in alert.peers())
    print(json.dumps({'event': 'summary', 'peers': sorted(found), 'enough': len(found) >= args.want}), flush=True)
    sys.exit(0 if len(found) >= args.want else 1)


def install_stop():
    stop = {'now': False}

    def handler(_signum, _frame):
        stop['now'] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def fetch(args):
    settings = isolated_settings(args.listen, args.dht_node, not args.no_dht)
    if args.no_tcp:
        settings.update({'enable_outgoing_tcp': False, 'enable_incoming_tcp': False})
    if args.no_utp:
        settings.update({'enable_outgoing_utp': False, 'enable_incoming_utp': False})
    if args.forced_encryption:
        forced = int(lt.enc_policy.forced)
        settings.update({'in_enc_policy': forced, 'out_enc_policy': forced, 'allowed_enc_level': int(lt.enc_level.rc4)})
    session = lt.session(settings)
    if args.magnet:
        params = lt.parse_magnet_uri(args.magnet)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
    params.trackers = args.tracker
    if args.no_dht:
        params.flags |= lt.torrent_flags.disable_dht
    params.flags |= lt.torrent_flags.disable_lsd
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    handle = session.add_torrent(params)
    for peer in args.peer:
        handle.connect_peer(endpoint(peer))
    stop = install_stop()
    started = time.time()
    deadline = started + args.timeout
    seen = {'trackerReplies': 0, 'trackerErrors': 0, 'trackerPeers': 0, 'dhtReplies': 0, 'connected': set(), 'connections': set(), 'failed': 0, 'errors': [], 'timeline': {}}
    complete_at = None
    contacts = [] if args.no_dht else [endpoint(node) for node in args.dht_node]
    next_dht_nudge = started + DHT_RETRY_SECONDS
    while not stop['now'] and time.time() < deadline:
        session.wait_for_alert(100)
        for alert in session.pop_alerts():
            note(alert, seen, time.time() - started)
        # A bootstrap that met no answer is not retried by libtorrent for minutes (a fresh-clone
        # CI run saw no DHT reply in 30 s): until the DHT has named a peer, ping the contacts and
        # search again every few seconds, as a client re-bootstrapping would.
        if contacts and seen['dhtReplies'] == 0 and time.time() >= next_dht_nudge:
            for contact in contacts:
                session.add_dht_node(contact)
            handle.force_dht_announce()
            next_dht_nudge = time.time() + DHT_RETRY_SECONDS
        remember_connections(handle, seen)
        status = handle.status()
        # Complete when every piece is had: passed its hash check and written. libtorrent 2 may call
        # the torrent seeding once every piece has passed, a few pieces before they are written
        # (61 of 64 pieces counted in one CI run), so is_seeding alone is not complete.
        if status.has_metadata and status.num_pieces == handle.torrent_file().num_pieces():
            complete_at = time.time()
            break
        if args.peer and time.time() - started > 1 and status.num_peers == 0:
            # Known peers only: keep asking, as a client retrying its cached peers would.
            for peer in args.peer:
                handle.connect_peer(endpoint(peer))
    status = handle.status()
    info = handle.torrent_file() if status.has_metadata else None
    print(json.dumps({
        'event': 'summary',
        'complete': complete_at is not None,
        'seconds': round((complete_at or time.time()) - started, 3),
        'payloadDownloaded': status.total_payload_download,
        'bytesDone': status.total_wanted_done,
        'bytesWanted': status.total_wanted,
        'piecesHave': status.num_pieces,
        'pieces': info.num_pieces() if info else None,
        'pieceLength': info.piece_length() if info else None,
        'hasMetadata': status.has_metadata,
        'trackerReplies': seen['trackerReplies'],
        'trackerErrors': seen['trackerErrors'],
        'trackerPeers': seen['trackerPeers'],
        'dhtReplies': seen['dhtReplies'],
        'peersConnected': sorted(seen['connected']),
        'connections': sorted(seen['connections']),
        'connectFailures': seen['failed'],
        'errors': seen['errors'],
        'timeline': seen['timeline'],
    }), flush=True)


def remember_connections(handle, seen):
    """Each peer's transport and encryption as libtorrent reports them: proof of what a mode used."""
    for peer in handle.get_peer_info():
        if not peer.flags & lt.peer_info.connecting and not peer.flags & lt.peer_info.handshake:
            transport = 'utp' if peer.flags & UTP_SOCKET else 'tcp'
            encryption = 'rc4' if peer.flags & lt.peer_info.rc4_encrypted else 'plaintext' if not peer.flags & lt.peer_info.plaintext_encrypted else 'header-only'
            seen['connections'].add('%s:%d %s %s' % (peer.ip[0], peer.ip[1], transport, encryption))


def note(alert, seen, seconds):
    """Counts what the client heard, and when it first heard each kind of thing (its timeline)."""
    first = {lt.tracker_reply_alert: 'trackerReply', lt.dht_reply_alert: 'dhtPeers', lt.metadata_received_alert: 'metadata', lt.peer_connect_alert: 'peerConnect', lt.piece_finished_alert: 'firstPiece'}.get(type(alert))
    if first and first not in seen['timeline']:
        seen['timeline'][first] = round(seconds, 3)
    if isinstance(alert, lt.tracker_reply_alert):
        seen['trackerReplies'] += 1
        seen['trackerPeers'] += alert.num_peers
    elif isinstance(alert, lt.tracker_error_alert):
        seen['trackerErrors'] += 1
        if len(seen['errors']) < 5:
            seen['errors'].append(alert.message())
    elif isinstance(alert, lt.dht_reply_alert):
        seen['dhtReplies'] += 1
    elif isinstance(alert, lt.peer_connect_alert):
        seen['connected'].add('%s:%d' % (alert.endpoint[0], alert.endpoint[1]))
    elif isinstance(alert, lt.peer_error_alert) or isinstance(alert, lt.peer_disconnected_alert):
        seen['failed'] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    make_cmd = commands.add_parser('make')
    make_cmd.add_argument('--dir', required=True)
    make_cmd.add_argument('--size', type=int, default=16 * 1024 * 1024)
    make_cmd.add_argument('--piece-size', type=int, default=256 * 1024)
    make_cmd.add_argument('--tracker', action='append', default=[])
    seed_cmd = commands.add_parser('seed')
    seed_cmd.add_argument('--torrent', required=True)
    seed_cmd.add_argument('--data', required=True)
    seed_cmd.add_argument('--listen', required=True)
    seed_cmd.add_argument('--tracker', action='append', default=[])
    seed_cmd.add_argument('--dht-node', action='append', default=[])
    seed_cmd.add_argument('--duration', type=float, default=600)
    seed_cmd.add_argument('--log', help='JSON-lines event log (default: standard output)')
    fetch_cmd = commands.add_parser('fetch')
    source = fetch_cmd.add_mutually_exclusive_group(required=True)
    source.add_argument('--torrent')
    source.add_argument('--magnet')
    fetch_cmd.add_argument('--save', required=True)
    fetch_cmd.add_argument('--listen', default='0.0.0.0:6881')
    fetch_cmd.add_argument('--dht-node', action='append', default=[])
    fetch_cmd.add_argument('--peer', action='append', default=[])
    fetch_cmd.add_argument('--tracker', action='append', default=[])
    fetch_cmd.add_argument('--no-dht', action='store_true')
    fetch_cmd.add_argument('--no-tcp', action='store_true')
    fetch_cmd.add_argument('--no-utp', action='store_true')
    fetch_cmd.add_argument('--forced-encryption', action='store_true')
    fetch_cmd.add_argument('--timeout', type=float, default=30)
    lookup_cmd = commands.add_parser('dht-lookup')
    lookup_cmd.add_argument('--info-hash', required=True)
    lookup_cmd.add_argument('--listen', required=True)
    lookup_cmd.add_argument('--dht-node', action='append', default=[])
    lookup_cmd.add_argument('--want', type=int, default=1)
    lookup_cmd.add_argument('--timeout', type=float, default=20)
    args = parser.parse_args()
    {'make': make, 'seed': seed, 'fetch': fetch, 'dht-lookup': dht_lookup}[args.command](args)


if __name__ == '__main__':
    main()
