import { describe, expect, it } from 'vitest';
import { explainOpenError } from '../src/open-error.js';

const nativeError = (message: string, code: string) => Object.assign(new Error(message), { code });
const PROC = ['    0  11111     0 2 65531     0     0       42  1', '    7  -4242     0 2  9216     0     0        0  1'].join('\n');
const FLAGS = ["whenFull: 'accept' (NFQA_CFG_F_FAIL_OPEN)", 'gso: true (NFQA_CFG_F_GSO)'];

describe('explainOpenError', () => {
  it('EPERM on bind for a queue the kernel lists: another process holds it, named by its port id', () => {
    const error = explainOpenError(nativeError('bind: Operation not permitted (errno 1)', 'EPERM'), 7, FLAGS, PROC);
    expect(error).toMatchObject({ reason: 'taken', message: 'cannot bind NFQUEUE 7: another process holds it (netlink port id -4242 in /proc/net/netfilter/nfnetlink_queue); stop that process or use another queue number' });
  });

  it('EPERM on bind for a queue nobody holds: root or CAP_NET_ADMIN is missing', () => {
    expect(explainOpenError(nativeError('bind: Operation not permitted (errno 1)', 'EPERM'), 3, FLAGS, PROC)).toMatchObject({ reason: 'permission', message: 'cannot bind NFQUEUE 3: permission denied; binding a queue needs root or CAP_NET_ADMIN' });
  });

  it('EBUSY: this process has the queue open already', () => {
    expect(explainOpenError(nativeError('bind: Device or resource busy (errno 16)', 'EBUSY'), 7, FLAGS, PROC).reason).toBe('taken');
  });

  it('EOPNOTSUPP while configuring names the flags asked for', () => {
    const error = explainOpenError(nativeError('configure: Operation not supported (errno 95)', 'EOPNOTSUPP'), 7, FLAGS, PROC);
    expect(error).toMatchObject({ reason: 'unsupported', message: "cannot configure NFQUEUE 7: this kernel does not support the queue flags asked for (whenFull: 'accept' (NFQA_CFG_F_FAIL_OPEN), gso: true (NFQA_CFG_F_GSO))" });
  });

  it('anything else keeps the errno text and says at which step', () => {
    expect(explainOpenError(nativeError('configure: No such device (errno 19)', 'ENODEV'), 7, FLAGS, PROC)).toMatchObject({ reason: 'other', message: 'cannot configure NFQUEUE 7: configure: No such device (errno 19)' });
  });
});
