"""The only package that imports the Kubernetes client library: typed helpers and error mapping."""
