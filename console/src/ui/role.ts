import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role } from '../api.js';

/** The signed-in token's role: admin controls are shown only to admin tokens (the API refuses the rest anyway). */
export const RoleContext = createContext<Role>('read');
export const useIsAdmin = (): boolean => useContext(RoleContext) === 'admin';
