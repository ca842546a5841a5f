/** Tests take their ports from the OS, never fixed ones (lib/net/free-port.ts). */
export { freePort } from '../../lib/net/free-port.js';
