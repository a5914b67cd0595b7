"""The JupyterHub-compatible REST API under /hub/api (see docs/api.md)."""
