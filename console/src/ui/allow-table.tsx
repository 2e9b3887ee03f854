import type { AllowView } from '../api.js';
import { DeleteButton } from './admin.js';
import { DecisionLink } from './decision-link.js';
import { Empty, When } from './parts.js';

export function AllowTable({ items, onChange }: { items: readonly AllowView[]; onChange: () => void }) {
  if (items.length === 0) return <Empty>No allow entries.</Empty>;
  return (
    <table class="grid" data-testid="allow-table">
      <thead><tr><th>Entry</th><th>Scope</th><th>Site</th><th>Reason</th><th>Author</th><th>Created</th><th>Expires</th><th /></tr></thead>
      <tbody>
        {items.map((a) => (
          <tr key={a.id} data-allow={a.id}>
            <td><DecisionLink id={a.id} /></td><td>{a.scope}</td><td>{a.site || '—'}</td><td class="wrap">{a.reason}</td><td>{a.author}</td>
            <td><When iso={a.created} /></td><td>{a.expires === null ? 'never' : <When iso={a.expires} />}</td>
            <td><DeleteButton kind="allow" id={a.id} onDone={onChange} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
