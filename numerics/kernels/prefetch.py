"""A numba intrinsic: a cache prefetch hint for one row of an array (``llvm.prefetch``).

The word and sentence passes at large vocabularies are bound by memory latency:
every occurrence reads a random embedding row (or per-sentence row) that is not
in cache.  Asking for the row a few occurrences ahead overlaps those misses.  A
prefetch is only a hint: it never changes a result, and a bad address is not an
error (nothing is read architecturally).
"""
from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM >= 15 has opaque pointers: the intrinsic is mangled on the address space only
_NAME = "llvm.prefetch.p0" if binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch_row(typingctx, arr, row):
    """Hint that ``arr[row, ...]`` (its first cache line and the one after it) will be read soon."""
    if not isinstance(arr, types.Array) or not isinstance(row, types.Integer):
        return None
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer2(
            context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides), layout=aryty.layout,
            inds=[args[1]] + [zero] * (aryty.ndim - 1), wraparound=False, boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), _NAME)
        base = builder.bitcast(ptr, i8p)
        # read (0), keep in all cache levels (3), data cache (1); rows may straddle two lines
        for offset in (0, 63):
            addr = builder.gep(base, [ir.Constant(ir.IntType(64), offset)])
            builder.call(fn, [addr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
