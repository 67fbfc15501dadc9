"""Monitoring: outside signals -> affected customers and assets -> targeted alerts."""
