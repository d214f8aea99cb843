"""Deployment: the image, the Helm chart, the plain manifests and Argo CD."""
