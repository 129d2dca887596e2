"""The service version (semantic versioning; see CHANGELOG.md). The knowledge base has its own version in
rules/manifest.yaml."""

__version__ = "0.6.0"
