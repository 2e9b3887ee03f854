import { useState } from 'preact/hooks';
import { roleOf, session, type Role } from '../api.js';

/** The token is checked against the brain before it is kept (sessionStorage: gone with the tab). */
export function Login({ onLogin }: { onLogin: (role: Role) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const role = await roleOf(token.trim());
      session.save(token.trim());
      onLogin(role);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="card" data-testid="login">
        <h1>p2pwall</h1>
        <p>Paste a read or admin token of the brain's API (<span class="mono">api.tokens</span> in brain.yaml). It is kept in this tab only and sent as a bearer header.</p>
        <label>
          Token
          <input type="password" name="token" autocomplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required minLength={16} />
        </label>
        {error ? <p class="error" role="alert">{error}</p> : null}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
