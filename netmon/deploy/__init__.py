"""Deployment helpers: the Ansible inventory generated from the site registry."""
