"""Predictive maintenance: sensor features, a degradation detector, work orders."""
