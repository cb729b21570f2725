// The settings form of one IdP kind, generated from the field list GET /api/admin/kinds answers.
// Field names are `settings.<name>` so the API's dotted error paths land beside their field.
import { Checkbox } from '@atlaskit/checkbox';
import { CheckboxField, ErrorMessage, Field, HelperMessage } from '@atlaskit/form';
import Select from '@atlaskit/select';
import Textfield from '@atlaskit/textfield';

const INPUT_TYPES = { url: 'url', email: 'email', integer: 'number', number: 'number' };

function initial(field, stored) {
  const value = stored?.[field.name] ?? field.default;
  if (field.secret) return '';
  if (value === null || value === undefined) return field.type === 'boolean' ? false : '';
  if (field.type === 'list') return [].concat(value).join(', ');
  if (field.type === 'object') return JSON.stringify(value);
  return value;
}

/** The API's settings object from the form's raw values; blank secrets are left out (kept). */
export function settingsFrom(fields, raw = {}) {
  const out = {};
  for (const f of fields) {
    let v = raw[f.name];
    if (f.choices && v && typeof v === 'object') v = v.value;
    if (v === '' || v === undefined || v === null) {
      if (f.type === 'boolean') out[f.name] = false;
      continue;
    }
    if (f.type === 'integer' || f.type === 'number') v = Number(v);
    else if (f.type === 'list') v = String(v).split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
    else if (f.type === 'object') {
      try { v = JSON.parse(v); } catch { /* the API names the field as invalid */ }
    }
    out[f.name] = v;
  }
  return out;
}

function describe(field, stored) {
  const parts = [];
  if (field.description) parts.push(field.description);
  if (field.secret && stored?.[field.name] === 'set') parts.push('A value is stored; leave empty to keep it.');
  if (field.type === 'list') parts.push('Separate values with commas.');
  if (field.type === 'object') parts.push('A JSON object.');
  return parts.join(' ');
}

function label(field) {
  return field.label || field.name.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
}

export default function KindForm({ kind, stored }) {
  return (
    <div className="field-list">
      {kind.fields.map((field) => {
        const name = `settings.${field.name}`;
        const help = describe(field, stored);
        if (field.type === 'boolean') {
          return (
            <CheckboxField key={name} name={name} defaultIsChecked={!!initial(field, stored)}>
              {({ fieldProps, error }) => (
                <>
                  <Checkbox {...fieldProps} label={label(field)} />
                  {help && <HelperMessage>{help}</HelperMessage>}
                  {error && <ErrorMessage>{error}</ErrorMessage>}
                </>
              )}
            </CheckboxField>
          );
        }
        const required = field.required && !(field.secret && stored?.[field.name] === 'set');
        if (field.choices) {
          const options = field.choices.map((c) => ({ label: String(c), value: c }));
          const start = options.find((o) => o.value === initial(field, stored)) || null;
          return (
            <Field key={name} name={name} label={label(field)} isRequired={required} defaultValue={start}>
              {({ fieldProps: { id, ...rest }, error }) => (
                <>
                  <Select inputId={id} {...rest} options={options} isClearable={!field.required} />
                  {help && <HelperMessage>{help}</HelperMessage>}
                  {error && <ErrorMessage>{error}</ErrorMessage>}
                </>
              )}
            </Field>
          );
        }
        return (
          <Field key={name} name={name} label={label(field)} isRequired={required}
            defaultValue={initial(field, stored)}>
            {({ fieldProps, error }) => (
              <>
                <Textfield {...fieldProps} autoComplete="off"
                  type={field.secret ? 'password' : (INPUT_TYPES[field.type] || 'text')} />
                {help && <HelperMessage>{help}</HelperMessage>}
                {error && <ErrorMessage>{error}</ErrorMessage>}
              </>
            )}
          </Field>
        );
      })}
    </div>
  );
}
