"""The console scripts, one module each (``gplvm``, ``gplvm-inspect``, ``gplvm-report``,
``gplvm-project``, ``gplvm-compare``), and their shared plumbing in :mod:`gplvm.cli.common`.

Importing this package sets one BLAS thread (unless the user set otherwise) before NumPy loads.
"""

from gplvm.cli.common import limit_threads

limit_threads()
