"""The python backend's compile mode: PyTensor's FAST_COMPILE, with sums of many terms split.

The python backend evaluates an elementwise op with NumPy, which takes at most 32 operands. Data
with missing cells give the likelihood one term per column group (up to D), and PyTensor's
rewrites gather such terms, and their gradients, into one Add: on digits with scattered missing
cells, 64 inputs. A late rewrite splits every wider Add into sums of 16.
"""

from __future__ import annotations

import functools

import pytensor.tensor as pt
from pytensor.compile.mode import Mode, get_mode
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.scalar import basic as ps
from pytensor.tensor.elemwise import Elemwise

MAX_ELEMWISE_INPUTS = 32
SPLIT_WIDTH = 16
# After PyTensor's fusion (49) and before its in-place rewrites (50+).
SPLIT_POSITION = 49.9


@node_rewriter([Elemwise])
def split_wide_sums(fgraph, node):
    """An Add of more than MAX_ELEMWISE_INPUTS inputs as a sum of sums of SPLIT_WIDTH."""
    if isinstance(node.op.scalar_op, ps.Add) and len(node.inputs) > MAX_ELEMWISE_INPUTS:
        parts = [pt.add(*node.inputs[i : i + SPLIT_WIDTH]) for i in range(0, len(node.inputs), SPLIT_WIDTH)]
        return [pt.add(*parts)]
    return None


@functools.cache
def python_mode() -> Mode:
    """FAST_COMPILE (NumPy implementations, few rewrites) with :func:`split_wide_sums`."""
    return get_mode("FAST_COMPILE").register((in2out(split_wide_sums), SPLIT_POSITION))
