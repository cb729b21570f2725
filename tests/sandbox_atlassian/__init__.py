"""Tests of the sandbox Atlassian Cloud site, over real HTTP on loopback."""
