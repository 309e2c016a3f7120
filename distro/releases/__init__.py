"""Press releases: authoring, import, embargo rules."""
