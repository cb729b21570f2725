"""The Atlassian client: Jira and Confluence behind AtlassianTarget, its auth modes and HTTP layer."""
