r"""numba intrinsics for what numba's own code generation does not give: LLVM IR written by hand.

* :func:`add4`: ``a[row, 0:4] += (d0, d1, d2, d3)`` as one 4-wide load, add and store.  The same
  IEEE additions as four scalar ones (bitwise the same result); LLVM did not vectorise numba's
  scalar form of the fused scatter (issue 13: the sentence pass 0.31 -> 0.25 ms at the paper's size).
* :func:`as_float64`: the float64 with a given int64 bit pattern (:mod:`.vexp` builds :math:`2^n`).

Neither checks bounds: the callers index rows they own (word ids validated where a batch is built).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def add4(typingctx, arr, row, d0, d1, d2, d3):
    """``arr[row, 0:4] += (d0, d1, d2, d3)`` (a C-contiguous 2-d float64 array with at least 4 columns)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.dtype == types.float64
            and arr.layout == "C" and isinstance(row, types.Integer)):
        return None
    sig = types.void(arr, row, d0, d1, d2, d3)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer2(
            context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides), layout=aryty.layout,
            inds=[args[1], context.get_constant(types.intp, 0)], wraparound=False, boundscheck=False)
        vty = ir.VectorType(ir.DoubleType(), 4)
        vptr = builder.bitcast(ptr, vty.as_pointer())
        vec = ir.Constant(vty, ir.Undefined)
        for k in range(4):  # loop-invariant in the callers: LLVM builds it once per sentence
            val = context.cast(builder, args[2 + k], signature.args[2 + k], types.float64)
            vec = builder.insert_element(vec, val, ir.Constant(ir.IntType(32), k))
        builder.store(builder.fadd(builder.load(vptr, align=8), vec), vptr, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def as_float64(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (a bit cast, no conversion)."""
    if not isinstance(bits, types.Integer) or bits.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen
