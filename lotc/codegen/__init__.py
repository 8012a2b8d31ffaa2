"""Code generation: a checked site becomes a Python package and two wheels.

The phases, each one module: ``config`` (site.toml), ``lower`` (with
``actions``, ``models`` and ``expressions``: the checked site as template
data), ``render`` (jinja2 templates and black), ``package`` (wheels).
``lotc.compile`` strings them together.
"""
