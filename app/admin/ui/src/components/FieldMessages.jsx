// Field-level validation messages from the API, for controls outside an Atlaskit Form.
import { ErrorMessage } from '@atlaskit/form';

export default function FieldMessages({ fields, path }) {
  const matches = Object.entries(fields || {}).filter(([k]) => k === path || k.startsWith(`${path}.`));
  if (matches.length === 0) return null;
  return matches.map(([k, msgs]) => <ErrorMessage key={k}>{[].concat(msgs).join(' ')}</ErrorMessage>);
}
