"""Baselines every method must beat: the label prior, early fusion and late fusion."""
