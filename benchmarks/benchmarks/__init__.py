"""airspeed velocity suite for structmat (see ``benchmarks/asv.conf.json``).

Every benchmark class is parametrised over the backend (``numpy``, ``cupy``).  The CuPy cases
raise ``NotImplementedError`` in ``setup`` (asv's way to skip) when CuPy or a CUDA device is
missing; when present, every timed call ends with a stream synchronisation.  ``setup`` runs
the operation once, so plans, caches and BLAS threads are warm before timing.
"""
