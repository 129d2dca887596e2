"""The service version (semantic versioning; see CHANGELOG.md). The knowledge base has its own version in
rules/manifest.yaml."""

__version__ = "1.0.1"
