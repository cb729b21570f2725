// A connection's name and IdP settings; creates (POST) or updates (PATCH) and shows the API's
// field errors beside each field.
import Button from '@atlaskit/button/new';
import Form, { ErrorMessage, Field, FormFooter } from '@atlaskit/form';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { useState } from 'react';
import { ApiError, nestFieldErrors, patch, post } from '../api.js';
import KindForm, { settingsFrom } from '../components/KindForm.jsx';

export default function SettingsForm({ kind, connection, submitText, onSaved }) {
  const [problem, setProblem] = useState(null);
  const [test, setTest] = useState(null);

  async function submit(values) {
    setProblem(null);
    const body = { name: values.name, settings: settingsFrom(kind.fields, values.settings) };
    try {
      const saved = connection ? await patch(`/connections/${connection.id}`, body)
        // Not scheduled until the wizard's last step: nothing runs before the admin has seen a preview.
        : await post('/connections', { kind: kind.kind, ...body, schedule: null });
      onSaved(saved);
      return undefined;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'validation') {
        setProblem(new ApiError(400, { message: 'Some fields need attention; see the messages beside them.' }));
        return nestFieldErrors(err.fields);
      }
      setProblem(err);
      return undefined;
    }
  }

  async function tryIt(values) {
    setTest({ pending: true });
    try {
      const answer = connection && !values
        ? await post(`/connections/${connection.id}/test`)
        : await post('/connections/test', { kind: kind.kind, settings: settingsFrom(kind.fields, values?.settings) });
      setTest(answer);
    } catch (err) { setTest({ ok: false, message: err.message }); }
  }

  return (
    <Form onSubmit={submit} noValidate>
      {({ formProps, submitting, getValues }) => (
        <form {...formProps} aria-label={`${kind.title} settings`}>
          <Field name="name" label="Connection name" isRequired defaultValue={connection?.name || kind.title}>
            {({ fieldProps, error }) => (<>
              <Textfield {...fieldProps} />
              {error && <ErrorMessage>{error}</ErrorMessage>}
            </>)}
          </Field>
          <KindForm kind={kind} stored={connection?.settings} />
          {problem && <SectionMessage appearance="error" title="Not saved"><p role="alert">{problem.message}</p></SectionMessage>}
          {test && !test.pending && (
            <SectionMessage appearance={test.ok ? 'success' : 'error'}
              title={test.ok ? 'The IdP answered' : 'The IdP could not be read'}>
              <p>{test.message}</p>
            </SectionMessage>
          )}
          <FormFooter align="start">
            <div className="row">
              {!connection && (
                <Button onClick={() => tryIt(getValues())} isLoading={test?.pending}>Try these settings</Button>
              )}
              <Button type="submit" appearance="primary" isLoading={submitting}>{submitText}</Button>
            </div>
          </FormFooter>
        </form>
      )}
    </Form>
  );
}
