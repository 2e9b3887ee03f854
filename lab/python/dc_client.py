#!/usr/bin/python3
"""A real Direct Connect client for the p2pwall lab: ncdc (Debian: ncdc) under a pseudo-terminal.

  dc_client.py share --session D --nick N --hub URL --listen IP:PORT --share-dir S [--duration S]
  dc_client.py fetch --session D --nick N --hub URL --peer NICK [--listen IP:PORT] [--timeout S]

ncdc is a curses program: it reads its commands from the keyboard. This helper gives it a
terminal of its own (pty), types the commands a user would (`/set …`, `/share …`, `/open …`,
`/browse <nick>`, `d` on the browsed share) and watches ncdc's session folder for what arrived.

`share` connects to the hub, shares S, logs {"event":"ready"} once the share is hashed and
ncdc is logged in, and serves until SIGTERM or --duration, then prints a JSON summary.
`fetch` connects to the hub, asks the peer's file list (`/browse`, a client-to-client
connection), downloads the peer's shared folder (`d` in the browse tab) and prints one JSON
summary: the file-list bytes and the content bytes that arrived, and when.

Every session is isolated: its own session folder, no hub list, no autoconnect to anything but
the hub named; TLS between clients is off unless --tls-policy says otherwise.
"""
import argparse
import fcntl
import json
import os
import pty
import select
import signal
import sqlite3
import struct
import sys
import termios
import time


def log_event(path, event, **fields):
    if not path:
        return
    with open(path, 'a') as out:
        out.write(json.dumps({'ts': int(time.time() * 1000), 'event': event, **fields}) + '\n')


class Ncdc:
    """ncdc in a pty of 40x140; output is drained (and kept, the last 64 KiB) so it never blocks."""

    def __init__(self, session):
        self.session = session
        self.screen = b''
        pid, fd = pty.fork()
        if pid == 0:
            os.environ['TERM'] = 'xterm'
            os.environ['HOME'] = session
            os.execvp('ncdc', ['ncdc', '-c', session, '-n'])
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 140, 0, 0))
        os.kill(pid, signal.SIGWINCH)

    def pump(self, seconds):
        """Reads ncdc's output for `seconds`."""
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.screen = (self.screen + data)[-65536:]

    def type(self, text, pause=0.3):
        os.write(self.fd, text.encode())
        self.pump(pause)

    def command(self, line, pause=0.3):
        self.type(line + '\r', pause)

    def alive(self):
        pid, _ = os.waitpid(self.pid, os.WNOHANG)
        return pid == 0

    def quit(self):
        # What the terminal last showed, for a run that went wrong.
        with open(os.path.join(self.session, 'screen.txt'), 'wb') as out:
            out.write(self.screen)
        try:
            self.command('/quit', 0.5)
        except OSError:
            pass
        for _ in range(30):
            if not self.alive():
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def configure(ncdc, args, share_dir=None):
    """Global settings a fresh session needs; the hub is opened last."""
    ncdc.pump(1.0)
    commands = [
        f'/set nick {args.nick}',
        f'/set tls_policy {args.tls_policy}',
        '/set autorefresh 0',
        '/set download_slots 3',
        '/set slots 3',
        '/set log_downloads true',
        '/set log_uploads true',
    ]
    if args.listen:
        ip, _, port = args.listen.rpartition(':')
        # local_address: connections out (to the hub too) leave from this address, so the hub sees it.
        commands += [f'/set local_address {ip}', f'/set active_ip {ip}', f'/set active_port {port}', '/set active true']
    if share_dir:
        commands.append(f'/share lab {share_dir}')
    for line in commands:
        ncdc.command(line)
    ncdc.command(f'/open lab {args.hub}', 1.0)


def hashed_files(session):
    """Files ncdc has hashed (its `hashfiles` table)."""
    try:
        db = sqlite3.connect(f'file:{os.path.join(session, "db.sqlite3")}?mode=ro', uri=True, timeout=1)
        try:
            return db.execute('SELECT COUNT(*) FROM hashfiles').fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def tree_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def share(args):
    stop = {'now': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    ncdc = Ncdc(args.session)
    configure(ncdc, args, args.share_dir)
    start = time.time()
    files = sum(len(f) for _, _, f in os.walk(args.share_dir))
    ready = False
    while not stop['now'] and time.time() - start < args.duration and ncdc.alive():
        ncdc.pump(0.5)
        if not ready and hashed_files(args.session) >= files:
            # The file list is written after hashing; a refresh makes it current at once.
            ncdc.command('/refresh', 1.0)
            ready = True
            log_event(args.log, 'ready', hashed=files, seconds=round(time.time() - start, 2))
            print(json.dumps({'event': 'ready'}), flush=True)
    ncdc.quit()
    print(json.dumps({'role': 'share', 'nick': args.nick, 'seconds': round(time.time() - start, 2), 'uploadedLog': read_text(os.path.join(args.session, 'transfers.log'))}), flush=True)


def read_text(path):
    try:
        with open(path) as f:
            return f.read()[-4000:]
    except OSError:
        return ''


def fetch(args):
    ncdc = Ncdc(args.session)
    configure(ncdc, args)
    start = time.time()
    timeline = {}
    file_lists = os.path.join(args.session, 'fl')
    downloads = os.path.join(args.session, 'dl')
    incoming = os.path.join(args.session, 'inc')
    last_browse = 0.0
    pressed = False
    while time.time() - start < args.timeout and ncdc.alive():
        ncdc.pump(0.25)
        now = time.time()
        if 'fileList' not in timeline:
            if tree_bytes(file_lists) > 0:
                timeline['fileList'] = round(now - start, 2)
            elif now - last_browse > 2.0:
                # Until the peer is in the hub's user list, /browse answers "no such user": ask again.
                ncdc.command(f'/browse {args.peer}')
                last_browse = now
        elif not pressed and now - start > timeline['fileList'] + 1.0:
            # The browse tab opens in the background as tab 3 (main, hub, browse): Alt+3 brings it
            # forward, on the share's root, where `d` queues the folder under the cursor.
            ncdc.type('\x1b3', 0.5)
            ncdc.type('d', 0.5)
            pressed = True
            timeline['queued'] = round(now - start, 2)
        if pressed and args.want and tree_bytes(downloads) >= args.want:
            timeline['complete'] = round(now - start, 2)
            break
    summary = {
        'role': 'fetch',
        'nick': args.nick,
        'seconds': round(time.time() - start, 2),
        'fileListBytes': tree_bytes(file_lists),
        'downloadedBytes': tree_bytes(downloads),
        'incompleteBytes': tree_bytes(incoming),
        'complete': 'complete' in timeline,
        'timeline': timeline,
        'transfers': read_text(os.path.join(args.session, 'transfers.log')),
    }
    ncdc.quit()
    print(json.dumps(summary), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='mode', required=True)
    for mode in ('share', 'fetch'):
        p = sub.add_parser(mode)
        p.add_argument('--session', required=True)
        p.add_argument('--nick', required=True)
        p.add_argument('--hub', required=True)
        p.add_argument('--listen', default='')
        p.add_argument('--log', default='')
        p.add_argument('--tls-policy', default='disabled', choices=['disabled', 'allow', 'prefer', 'force'],
                       help='TLS between clients (ncdc tls_policy); the lab default keeps them in clear')
        if mode == 'share':
            p.add_argument('--share-dir', required=True)
            p.add_argument('--duration', type=float, default=600)
        else:
            p.add_argument('--peer', required=True)
            p.add_argument('--timeout', type=float, default=30)
            p.add_argument('--want', type=int, default=0, help='content bytes that complete the download')
    args = parser.parse_args()
    os.makedirs(args.session, exist_ok=True)
    share(args) if args.mode == 'share' else fetch(args)


if __name__ == '__main__':
    sys.exit(main())
