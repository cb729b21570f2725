"""Tests of the Atlassian client against the sandbox site over HTTP."""
