"""A sandbox Atlassian Cloud site (Jira, Confluence, api/auth hosts) served over real HTTP."""
