export { type CapturedPacket, type PacketSource, CaptureError, MAX_CAPTURED_LENGTH } from './source.js';
export { openCapture, type OpenCaptureOptions } from './open.js';
export { PcapReader } from './pcap.js';
export { PcapngReader, type CaptureInterface } from './pcapng.js';
export { mergeByTime } from './merge.js';
export {
  LINK_MALFORMED,
  LINK_NOT_IP,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  DLT_RAW,
  DLT_RAW_OPENBSD,
  MAX_VLAN_TAGS,
  isSupportedLinkType,
  linkTypeName,
  locateIp,
} from './link.js';
export {
  encodePcap,
  encodePcapng,
  encodePcapngBlock,
  writePcap,
  writePcapng,
  type PcapRecord,
  type PcapWriteOptions,
  type PcapngInterfaceDescription,
  type PcapngRecord,
  type PcapngWriteOptions,
} from './pcap-writer.js';
