"""The library every paper imports: configuration, data, training, tracking, metrics, reporting.

Paper folders import from here and never copy it (DESIGN.md, convention 1).
"""
