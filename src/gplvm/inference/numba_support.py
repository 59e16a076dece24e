"""What gplvm's graphs need for PyTensor's numba backend, registered on demand: numba versions of
gplvm's own Ops, and a graph rewrite.

The stacked per-column factorisations of data with missing cells differentiate a stacked
Cholesky (PyTensor and PyMC rewrite a positive definite ``slogdet`` and ``solve`` into one), whose
gradient builds diagonal matrices with ``AllocDiag`` inside a ``Blockwise``. The numba backend
cannot compile that ``Blockwise`` (it cannot infer the core op's shape) and runs it in Python
object mode, slowly and with a warning. ``AllocDiag`` itself takes leading batch dims, so the
rewrite below replaces the ``Blockwise`` by one batched ``AllocDiag``, which numba compiles.
"""

from __future__ import annotations

from gplvm.model import bound_ops, dense_ops, psi_rows

_registered = False


def register_numba_ops() -> None:
    """Register the Ops' numba versions and the rewrite (once; later calls do nothing)."""
    global _registered
    if _registered:
        return
    dense_ops.register_numba()
    bound_ops.register_numba()
    psi_rows.register_numba()
    from pytensor.graph.rewriting.basic import node_rewriter
    from pytensor.tensor.basic import AllocDiag, alloc_diag
    from pytensor.tensor.blockwise import Blockwise
    from pytensor.tensor.rewriting.basic import register_canonicalize, register_specialize

    @register_specialize
    @register_canonicalize
    @node_rewriter([Blockwise])
    def gplvm_batched_alloc_diag(fgraph, node):
        """Blockwise(AllocDiag)(x) -> AllocDiag(x) on the trailing axes of x."""
        core = node.op.core_op
        if not isinstance(core, AllocDiag):
            return None
        (x,) = node.inputs
        batch = x.type.ndim - 1
        return [alloc_diag(x, offset=core.offset, axis1=core.axis1 + batch, axis2=core.axis2 + batch)]

    _registered = True
