// An API error as a section message (field errors are shown beside their fields instead).
import SectionMessage from '@atlaskit/section-message';

export default function Problem({ error, title = 'Something went wrong' }) {
  if (!error) return null;
  return (
    <SectionMessage appearance="error" title={title}>
      <p role="alert">{error.message}</p>
    </SectionMessage>
  );
}
