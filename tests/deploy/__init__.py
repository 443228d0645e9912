"""The packaging and deployment files: locks, Dockerfile, Kubernetes manifests, compose file."""
