// 64-bit counters travel as plain numbers: exact up to 2^53, far beyond any counter here, and
// cheaper than Long objects. protobufjs picks Long whenever the long library is loaded, so it
// is switched off before the generated code loads (index.js imports this module first).
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = undefined;
protobuf.configure();
