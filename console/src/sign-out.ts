import { session } from './api.js';
import { stopLive } from './live.js';

/** Forgets the token and tells the app to show the login page (the sign-out button, a revoked token). */
export const SIGNED_OUT = 'p2pwall-signed-out';

export function signOut(): void {
  session.clear();
  stopLive();
  window.location.hash = '/login';
  window.dispatchEvent(new Event(SIGNED_OUT));
}
