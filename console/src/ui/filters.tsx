import { useState } from 'preact/hooks';
import { href, navigate } from '../router.js';

/** A filter: a text input, or a choice among `options` ([value, label]; the value '' is no filter). */
export interface FilterField {
  name: string;
  label: string;
  hint: string;
  options?: readonly (readonly [string, string])[];
}

/** A filter form whose values live in the page's URL (#/page?field=value), so a filtered list can be reloaded and shared. */
export function Filters({ page, fields, params }: { page: string; fields: readonly FilterField[]; params: URLSearchParams }) {
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.name, params.get(f.name) ?? ''])));
  const submit = (event: Event): void => {
    event.preventDefault();
    navigate(href([page], values));
  };
  return (
    <form class="filters" onSubmit={submit} data-testid="filters">
      {fields.map((f) => (
        <label key={f.name}>
          {f.label}
          {f.options ? (
            <select name={f.name} title={f.hint} value={values[f.name] ?? ''} onChange={(e) => setValues({ ...values, [f.name]: (e.target as HTMLSelectElement).value })}>
              {f.options.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
            </select>
          ) : (
            <input name={f.name} placeholder={f.hint} value={values[f.name] ?? ''} onInput={(e) => setValues({ ...values, [f.name]: (e.target as HTMLInputElement).value.trim() })} />
          )}
        </label>
      ))}
      <div class="buttons">
        <button type="submit">Filter</button>
        <button type="button" class="plain" onClick={() => navigate(href([page]))}>Clear</button>
      </div>
    </form>
  );
}

/** The parameters of the list call: the page's filters, and the cursor of the page shown. */
export function listParams(params: URLSearchParams, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...names, 'cursor']) {
    const value = params.get(name);
    if (value !== null && value !== '') out[name] = value;
  }
  return out;
}

export function NextPage({ page, params, cursor }: { page: string; params: Record<string, string>; cursor: string | null }) {
  if (cursor === null) return null;
  return <p><a class="button plain" href={href([page], { ...params, cursor })}>Next page →</a></p>;
}
