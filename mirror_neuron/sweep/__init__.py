"""Sweeps: many experiments from one config (a grid, zipped lists, seeds), run on an executor, gathered in
one points table and report. ``spec`` reads the block and expands the points, ``run`` runs them on an
``executors`` executor, ``table`` and ``report`` (with ``plots``) gather what they found."""
