// Multi-select of group names fed by a picker route; new names can be typed (they are created).
import { CreatableSelect } from '@atlaskit/select';
import { useEffect, useState } from 'react';
import { get, itemsOf } from '../api.js';

const asOptions = (names) => (names || []).map((n) => ({ label: n, value: n }));

/** Loads the picker's names once; failures leave the list empty (names can still be typed). */
export function usePickerNames(path) {
  const [names, setNames] = useState([]);
  useEffect(() => {
    if (!path) return;
    get(path).then((a) => setNames(itemsOf(a).map((g) => g.name)), () => setNames([]));
  }, [path]);
  return names;
}

export default function GroupPicker({ inputId, label, names, value, onChange, isMulti = true }) {
  const current = isMulti ? asOptions(value) : (value ? { label: value, value } : null);
  return (
    <CreatableSelect
      inputId={inputId}
      aria-label={label}
      isMulti={isMulti}
      isClearable
      options={asOptions(names)}
      value={current}
      placeholder="Pick or type a group name"
      onChange={(v) => onChange(isMulti ? (v || []).map((o) => o.value) : (v ? v.value : ''))}
    />
  );
}
