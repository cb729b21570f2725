// The Atlassian write credential: OAuth consent, organization API key, or the legacy API token.
import Button from '@atlaskit/button/new';
import { Checkbox } from '@atlaskit/checkbox';
import Form, { CheckboxField, ErrorMessage, Field, FormFooter } from '@atlaskit/form';
import Lozenge from '@atlaskit/lozenge';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { useState } from 'react';
import { ApiError, get, nestFieldErrors, post, put } from '../api.js';
import Problem from '../components/Problem.jsx';
import useAsync from '../components/useAsync.js';

function KeyForm({ path, fields, submitText, onSaved }) {
  async function submit(values) {
    try {
      onSaved(await put(path, values));
      return undefined;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'validation') return nestFieldErrors(err.fields);
      return { [fields[0][0]]: err.message };
    }
  }
  return (
    <Form onSubmit={submit} noValidate>
      {({ formProps, submitting }) => (
        <form {...formProps}>
          {fields.map(([name, label, type]) => (type === 'checkbox'
            ? <CheckboxField key={name} name={name} defaultIsChecked={false}>
              {({ fieldProps }) => <Checkbox {...fieldProps} label={label} />}
            </CheckboxField>
            : <Field key={name} name={name} label={label} isRequired defaultValue="">
              {({ fieldProps, error }) => (<>
                <Textfield {...fieldProps} type={type} autoComplete="off" />
                {error && <ErrorMessage>{error}</ErrorMessage>}
              </>)}
            </Field>
          ))}
          <FormFooter align="start"><Button type="submit" isLoading={submitting}>{submitText}</Button></FormFooter>
        </form>
      )}
    </Form>
  );
}

export default function Credential() {
  const { data, error, reload } = useAsync(() => get('/credential'));
  const [check, setCheck] = useState(null);
  const [problem, setProblem] = useState(null);
  if (error) return <Problem error={error} />;
  if (!data) return <p>Loading…</p>;

  async function startOAuth() {
    try { window.open((await post('/credential/oauth/start')).authorize_url, '_blank', 'noopener'); } catch (err) { setProblem(err); }
  }
  async function runCheck() {
    try { setCheck(await post('/credential/check')); } catch (err) { setProblem(err); }
  }
  return (
    <div className="stack">
      <h1>Write access</h1>
      <SectionMessage appearance="information" title="Why the app needs a credential from you">
        <p>The app reads groups and users with its own identity, but Atlassian does not let an
          app's own token change them: a Connect app's JWT is refused every group and user
          write, and a Forge app's own token is refused them unless its app account is made a
          site admin. Changes therefore go through the credential you connect here.</p>
      </SectionMessage>
      <p>Active credential: {data.active ? <Lozenge appearance="success">{data.active.replace('_', ' ')}</Lozenge>
        : <Lozenge appearance="removed">none</Lozenge>} · organization API key: {data.org_api_key}</p>
      <div className="row"><Button onClick={runCheck}>Check it still works</Button></div>
      {check && <SectionMessage appearance={check.ok ? 'success' : 'error'}><p>{check.message}</p></SectionMessage>}
      <Problem error={problem} />
      <h2>OAuth 2.0 consent (recommended)</h2>
      {data.oauth_available
        ? <Button appearance="primary" onClick={startOAuth}>Connect with Atlassian</Button>
        : <p className="muted">OAuth is not configured on this server.</p>}
      <h2>Organization API key</h2>
      <p className="muted">Suspends access when people leave the IdP and finds suspended accounts
        and hidden addresses. With no other credential connected it is the one key that writes
        groups, memberships and invites, for Jira, Confluence and Forge installations alike.</p>
      <KeyForm path="/credential/org-key" submitText="Save organization key" onSaved={reload}
        fields={[['org_id', 'Organization ID', 'text'], ['api_key', 'API key', 'password']]} />
      <h2>API token (legacy)</h2>
      <SectionMessage appearance="warning"><p>{data.api_token_caution}</p></SectionMessage>
      <KeyForm path="/credential/api-token" submitText="Save API token" onSaved={reload}
        fields={[['email', 'Site admin e-mail', 'email'], ['api_token', 'API token', 'password'],
          ['scoped', 'Created with scopes (sent through api.atlassian.com)', 'checkbox']]} />
    </div>
  );
}
