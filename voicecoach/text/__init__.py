"""The text core: knowledge base, normalisation, matching and dialogue. Imports nothing from audio, engines or CLI."""
