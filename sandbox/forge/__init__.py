"""A sandbox Forge platform: signs Forge Invocation Tokens and calls a Forge Remote as Forge does."""
