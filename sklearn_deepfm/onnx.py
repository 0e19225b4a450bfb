"""ONNX conversion of fitted DeepFM estimators through skl2onnx.

Importing this module registers a converter for :class:`DeepFMClassifier`
and :class:`DeepFMRegressor` with skl2onnx, so that ``skl2onnx.to_onnx``
converts them alone or inside a ``Pipeline`` or ``ColumnTransformer``::

    import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)
    from skl2onnx import to_onnx

    onx = to_onnx(model, X[:1], options={"zipmap": False})

The graph applies the fitted input rule (``input_layout_``) and the model:

- categorical columns map every category seen in ``fit`` to its embedding
  row and anything else (unseen or negative codes, NaN, unseen strings) to
  the field's unknown row, with ``ai.onnx.ml`` ``LabelEncoder`` lookups;
- numeric columns are standardised as in ``fit``; a whole-number column
  also read as a number (``number_of``) reads a missing value as its mean;
- a dense one-hot block reads its active column (none set: unknown row);
- a sparse-matrix model (after a ``OneHotEncoder`` in a pipeline, where the
  ONNX tensor is dense) multiplies the columns by the embedding table;
- a multi-valued field (a column of lists, or a multi-hot block declared as
  one field) is not converted: the conversion raises an error naming the
  field (export the network with :mod:`sklearn_deepfm.export` instead);
- then the first-order part, the FM and the MLP in evaluation mode (dropout
  off, batch norm folded into the layer before it), or the first-order part
  alone when ``interactions_kept_`` is False;
- a row with infinity in a float column of codes or numbers, or a number
  more than 1e15 standard deviations from its training mean (a fill value
  such as 1e20), which ``predict`` refuses, gets NaN outputs (a graph cannot
  raise);
- a categorical field of integer codes of 2**24 or more cannot be read
  from a float32 input, which would round them to their neighbours: the
  conversion refuses it (convert from a float64 or int64 example).

The classifier has the outputs of skl2onnx's classifiers: ``label`` and
``probabilities`` (with option ``zipmap=False``; the default, as for every
skl2onnx classifier, is a ZipMap of dictionaries; ``'columns'`` gives one
output per class; ``nocl=True`` gives class indices as labels).  The
regressor's output is ``variable``, of shape ``(n_samples, 1)``.  The model
runs in float32; a model trained with ``mixed_precision`` (bfloat16 deep
part) is exported in float32.  A classifier's probabilities are float64
when the first input is; a regressor's output is float64 when any input is
(its target's scale and offset applied in float64).

A DataFrame becomes one ONNX input per column (skl2onnx's rule): feed each
column as an array of shape ``(n_samples, 1)``; string columns as ``str``
values, with missing values as any string that is not a category
(:func:`onnx_inputs` feeds ``MISSING_STRING``, ``"\\x00"``, which the
conversion refuses as a category; ``""`` may be one).  skl2onnx renames
the columns whose names are not identifiers (``education-num`` becomes the
input ``education_num``): :func:`onnx_inputs` builds onnxruntime's inputs
from a DataFrame under its own column names.
"""

import re

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int32TensorType,
    Int64TensorType,
    StringTensorType,
    guess_proto_type,
)

from ._categorical import strings_advice
from ._classifier import DeepFMClassifier
from ._columns import _holds_strings, _is_missing, _is_temporal, _raise_temporal
from ._crosses import KEY_BASE
from ._layout import CATEGORICAL, INDICATOR, MULTIVALUED, NUMERIC
from ._numeric import MAX_STANDARD_DEVIATIONS
from ._regressor import DeepFMRegressor

__all__ = ["MISSING_STRING", "onnx_inputs"]

# Operators whose axes arrive as an input (ReduceSum) need opset 13.
MIN_OPSET = 13
ML_OPSET = 2  # ai.onnx.ml LabelEncoder with default values
# A categorical field of integer codes is read through a table indexed by
# code when its largest code is below max(TABLE_MIN_SIZE, TABLE_RATIO *
# n_categories), as in the encoder, else through a LabelEncoder (a hash
# table, slower per row).
TABLE_MIN_SIZE = 1 << 16
TABLE_RATIO = 4
# onnx_inputs feeds a missing string as this, which no string field may hold
# as a category: it fed "", which a blank cell in fit had made a category
# (P 0.91 served where predict gave the unknown row's 0.38).
MISSING_STRING = "\x00"
# float32 holds every integer up to 2**24 exactly; a float32 input would
# read the code 20000005 as 20000004, another category.
FLOAT32_EXACT = 2**24
# and float64 up to 2**53: 64-bit ids held as integer labels go beyond
FLOAT64_EXACT = 2**53
INT64_MAX = np.iinfo(np.int64).max
INPUT_TYPES = (
    FloatTensorType,
    DoubleTensorType,
    Int64TensorType,
    Int32TensorType,
    BooleanTensorType,
    StringTensorType,
)


class _Graph:
    """Adds nodes and constants to skl2onnx's container under unique names."""

    def __init__(self, scope, container):
        self.scope = scope
        self.container = container

    def const(self, array, name="const"):
        array = np.asarray(array)
        unique = self.scope.get_unique_variable_name(name)
        if array.dtype.kind in "OUS":
            self.container.add_initializer(
                unique,
                TensorProto.STRING,
                list(array.shape),
                [str(item).encode("utf-8") for item in array.ravel()],
            )
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(array), unique)
            self.container.add_initializer(unique, tensor.data_type, None, tensor)
        return unique

    def op(self, op_type, *inputs, output=None, domain="", version=None, **attrs):
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [output],
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return output

    def cast(self, name, to):
        return self.op("Cast", name, to=to)

    def reduce_sum(self, name, axis, keepdims=1):
        axes = self.const(np.array([axis], dtype=np.int64), "axes")
        return self.op("ReduceSum", name, axes, keepdims=keepdims)


# reading the input --------------------------------------------------------
class _Columns:
    """The model's input columns in the graph, one tensor of shape
    ``(n, 1)`` (or ``(n, k)`` for several) per request, cast as needed."""

    def __init__(self, graph, inputs, n_features, estimator_name):
        self.graph = graph
        self.inputs = inputs
        if len(inputs) != 1 and len(inputs) != n_features:
            raise RuntimeError(
                f"{estimator_name} was fitted on {n_features} column(s) and the "
                f"ONNX graph has {len(inputs)} inputs for it; give one input "
                "with every column or one input per column."
            )
        self.n_features = n_features
        self.split = len(inputs) > 1
        for variable in inputs:
            if not isinstance(variable.type, INPUT_TYPES):
                raise RuntimeError(
                    f"{estimator_name} cannot read ONNX input {variable.onnx_name!r} "
                    f"of type {variable.type}."
                )

    def per_column_hint(self):
        """What to add to an error about one column's input type where one
        input holds every column (a mixed object array's example): one type
        cannot suit labels and numbers, and the advice went back and forth."""
        if self.split or self.n_features == 1:
            return ""
        return (
            " One input holds every column here, and one type cannot suit "
            "both labels and numbers: give initial_types one input per column "
            "(StringTensorType([None, 1]) for labels, DoubleTensorType([None, 1]) "
            "for numbers and codes)."
        )

    def proto_type(self, column):
        variable = self.inputs[column if self.split else 0]
        return guess_proto_type(variable.type)

    def take(self, columns, to=None):
        """Columns ``columns`` (a list), cast to the proto type ``to``."""
        graph = self.graph
        if self.split:
            parts = [self.inputs[c].onnx_name for c in columns]
            if to is not None:
                parts = [
                    part if self.proto_type(c) == to else graph.cast(part, to)
                    for c, part in zip(columns, parts, strict=True)
                ]
            return parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=1)
        source = self.inputs[0].onnx_name
        if list(columns) == list(range(self.n_features)):
            taken = source
        else:
            index = graph.const(np.array(columns, dtype=np.int64), "columns")
            taken = graph.op("Gather", source, index, axis=1)
        if to is not None and self.proto_type(columns[0]) != to:
            taken = graph.cast(taken, to)
        return taken

    def all(self, to):
        """Every column as one ``(n, n_features)`` tensor of type ``to``."""
        if self.split:
            return self.take(list(range(len(self.inputs))), to)
        source = self.inputs[0].onnx_name
        return source if self.proto_type(0) == to else self.graph.cast(source, to)


def _category_rows(graph, columns, field):
    """Embedding row of a categorical field: ``offset + 1 + i`` for category
    ``i``, ``offset`` (unknown) for anything else."""
    column = field.columns[0]
    categories = field.categories
    rows = np.arange(field.offset + 1, field.offset + 1 + len(categories))
    if columns.proto_type(column) == TensorProto.STRING:
        if not all(isinstance(category, str) for category in categories):
            raise RuntimeError(
                f"Field {field.field} ({field.names[0]!r}) has categories that are "
                "not strings; give its ONNX input a numeric type."
                + columns.per_column_hint()
            )
        if MISSING_STRING in list(categories):  # (NumPy strips NUL)
            raise RuntimeError(
                f"Field {field.field} ({field.names[0]!r}) has the category "
                f"{MISSING_STRING!r}, which onnx_inputs feeds for a missing "
                "value; replace it in the training data."
            )
        keys = {"keys_strings": list(categories) or [""]}
        codes = columns.take([column])
    else:
        numeric = _integer_categories(field)
        if numeric is None:
            raise RuntimeError(
                f"Field {field.field} ({field.names[0]!r}) has categories that are "
                "not non-negative integer codes; give its ONNX input the string "
                "type." + columns.per_column_hint()
            )
        keys = {"keys_int64s": [int(value) for value in numeric] or [-1]}
        codes = _integer_codes(graph, columns, column, max(numeric, default=-1))
    return graph.op(
        "LabelEncoder",
        codes,
        domain="ai.onnx.ml",
        version=ML_OPSET,
        values_int64s=[int(row) for row in rows] or [field.offset],
        default_int64=int(field.offset),
        **keys,
    )


def _integer_codes(graph, columns, column, largest):
    """A numeric column as int64 codes, -1 where it holds no category code
    (negative, above ``largest``, not an integer, NaN)."""
    proto = columns.proto_type(column)
    if proto in (TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL):
        return columns.take([column], TensorProto.INT64)
    values = columns.take([column], TensorProto.DOUBLE)
    zero = graph.const(np.array(0.0))
    top = graph.const(np.array(float(largest)))
    valid = graph.op(
        "And",
        graph.op(
            "And",
            graph.op("GreaterOrEqual", values, zero),
            graph.op("LessOrEqual", values, top),
        ),
        graph.op("Equal", values, graph.op("Floor", values)),
    )
    codes = graph.op("Where", valid, values, graph.const(np.array(-1.0)))
    return graph.cast(codes, TensorProto.INT64)


def _indicator_rows(graph, columns, field):
    """Embedding row of a one-hot block: the first active (non-zero, not
    NaN) column's, ``offset`` when none is."""
    block = columns.take(list(field.columns), TensorProto.FLOAT)
    active = graph.op(
        "And",
        graph.op("Not", graph.op("IsNaN", block)),
        graph.op("Not", graph.op("Equal", block, graph.const(np.float32(0)))),
    )
    active = graph.cast(active, TensorProto.FLOAT)
    first = graph.op("ArgMax", active, axis=1, keepdims=1)
    any_active = graph.op(
        "Greater", graph.reduce_sum(active, 1), graph.const(np.float32(0))
    )
    return graph.op(
        "Where",
        any_active,
        graph.op("Add", first, graph.const(np.int64(field.offset + 1))),
        graph.const(np.array([[field.offset]], dtype=np.int64)),
    )


def _scaled_values(graph, columns, field):
    """A numeric field's value, standardised in float64 as in ``fit``."""
    if columns.proto_type(field.columns[0]) == TensorProto.STRING:
        raise RuntimeError(
            f"Field {field.field} ({field.names[0]!r}) is numeric; its ONNX input "
            "cannot be a string. An object column of numbers is typed as "
            "strings from a DataFrame example: give skl2onnx initial_types "
            "with a DoubleTensorType([None, 1]) for it." + columns.per_column_hint()
        )
    values = columns.take([field.columns[0]], TensorProto.DOUBLE)
    if field.number_of is not None:  # missing values at the mean, as in fit
        mean = graph.const(np.array([[field.mean]], dtype=np.float64))
        values = graph.op("Where", graph.op("IsNaN", values), mean, values)
    centred = graph.op("Sub", values, graph.const(np.float64(field.mean)))
    scaled = graph.op("Div", centred, graph.const(np.float64(field.scale)))
    return graph.cast(scaled, TensorProto.FLOAT)


def _slots(graph, columns, layout):
    """Where every field of a dense input reads the embedding tables.

    Returns ``positions``, ``(n, n_fields)`` int64, the fields' values,
    ``(n, n_fields)`` float32 (None when every value is 1), and
    ``position_rows``, the embedding row of each position: position ``r <
    n_embeddings`` is row ``r``; fields of small integer codes read, after
    those, a block of positions indexed by code.  Other fields give rows
    directly.
    """
    pieces = []  # (positions (n, k), values (n, k) or None, field ids)
    tabulated = {}
    for field in layout.fields:
        if field.kind == CATEGORICAL:
            _check_exact_codes(columns, field)
        if field.kind == CATEGORICAL and _tabulated(columns, field):
            kind = _code_kind(columns, field.columns[0])
            tabulated.setdefault(kind, []).append(field)
        elif field.kind == CATEGORICAL:
            pieces.append((_category_rows(graph, columns, field), None, [field.field]))
        elif field.kind == INDICATOR:
            pieces.append((_indicator_rows(graph, columns, field), None, [field.field]))
        else:
            value = _scaled_values(graph, columns, field)
            rows = _filled(graph, np.int64(field.offset), graph.op("Shape", value))
            pieces.append((rows, value, [field.field]))
    position_rows = [np.arange(layout.n_embeddings)]
    for kind, fields in tabulated.items():
        start = sum(block.size for block in position_rows)
        positions, rows = _code_positions(graph, columns, fields, kind, start)
        position_rows.append(rows)
        pieces.append((positions, None, [field.field for field in fields]))

    order = [field for _, _, fields in pieces for field in fields]
    positions = _concat(graph, [rows for rows, _, _ in pieces])
    positions = _in_order(graph, positions, order)
    position_rows = np.concatenate(position_rows)
    if all(value is None for _, value, _ in pieces):
        return positions, None, position_rows
    values = [
        _filled(graph, np.float32(1), graph.op("Shape", rows))
        if value is None
        else value
        for rows, value, _ in pieces
    ]
    values = _in_order(graph, _concat(graph, values), order)
    # NaN where a number is further from its mean than predict accepts (a
    # fill value such as 1e20 gave P = 1 and -1e20 P = 0), as for infinity
    far = graph.op(
        "Greater",
        graph.op("Abs", values),
        graph.const(np.float32(MAX_STANDARD_DEVIATIONS)),
    )
    values = graph.op("Where", far, graph.const(np.float32(np.nan)), values)
    return positions, values, position_rows


def _check_exact_codes(columns, field):
    """Refuse a float32 or float64 input for a field whose codes it cannot
    hold."""
    proto = columns.proto_type(field.columns[0])
    exact, name, other = {
        TensorProto.FLOAT: (FLOAT32_EXACT, "float32", "float64 or int64"),
        TensorProto.DOUBLE: (FLOAT64_EXACT, "float64", "int64"),
    }.get(proto, (None, None, None))
    if exact is None:
        return
    codes = _integer_categories(field)
    if codes is not None and codes.size and codes.max() >= exact:
        raise RuntimeError(
            f"Field {field.field} ({field.names[0]!r}) has codes up to "
            f"{int(codes.max())}, which a {name} input cannot hold exactly "
            f"(from {exact:,} on, it reads neighbouring codes as one); "
            f"convert from an example whose column is {other}."
        )


def _in_order(graph, slots, order):
    """``slots``, whose column ``j`` is field ``order[j]``, in field order."""
    if order == sorted(order):
        return slots
    index = graph.const(np.argsort(order).astype(np.int64), "field_order")
    return graph.op("Gather", slots, index, axis=1)


def _integer_categories(field):
    """The categories of a field as int64 codes, exactly, or None when they
    are not all non-negative integers within int64 (integer labels above
    2**53, 64-bit ids, had gone through float64 and merged)."""
    values = np.asarray(field.categories)
    if values.dtype.kind == "O":
        codes = []
        for category in values:
            if isinstance(category, (bool, np.bool_)) or not isinstance(
                category, (int, float, np.number)
            ):
                return None
            value = category.item() if isinstance(category, np.generic) else category
            if isinstance(value, float):
                if not value.is_integer():
                    return None
                value = int(value)
            codes.append(value)
        if any(not 0 <= value <= INT64_MAX for value in codes):
            return None
        return np.asarray(codes, dtype=np.int64)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            return None
        if values.size and (values.min() < 0 or values.max() >= 2.0**63):
            return None
        return values.astype(np.int64)
    if values.dtype.kind in "iu":
        if values.size and (values.min() < 0 or values.max() > INT64_MAX):
            return None
        return values.astype(np.int64)
    return None  # strings, booleans


def _tabulated(columns, field):
    """Whether a categorical field is read through a table indexed by code:
    integer codes, no larger than a few times its number of categories."""
    if columns.proto_type(field.columns[0]) == TensorProto.STRING:
        return False
    codes = _integer_categories(field)
    if codes is None:
        return False
    largest = int(codes.max()) if codes.size else -1
    return largest < max(TABLE_MIN_SIZE, TABLE_RATIO * codes.size)


def _code_kind(columns, column):
    integer = (TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL)
    return "integer" if columns.proto_type(column) in integer else "float"


def _code_positions(graph, columns, fields, kind, start):
    """Positions of categorical ``fields`` read by code, and the embedding
    row of each position.

    Field ``f`` owns the block of positions ``start + base_f + 1 + c`` for
    codes ``c`` in ``-1..largest_f + 1``, its largest category plus one:
    codes are clipped into that range.  Codes ``-1`` and ``largest_f + 1``
    (any negative or larger code), codes of no category, non-integer values
    and NaN read the field's unknown row.
    """
    blocks, largest = [], []
    for field in fields:
        codes = _integer_categories(field)
        top = int(codes.max()) if codes.size else -1
        rows = np.full(top + 3, field.offset, dtype=np.int64)
        rows[codes + 1] = np.arange(field.offset + 1, field.offset + 1 + codes.size)
        blocks.append(rows)
        largest.append(top)
    sizes = np.array([block.size for block in blocks])
    first = start + 1 + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    largest = np.array(largest).reshape(1, -1)
    source = [field.columns[0] for field in fields]
    if kind == "integer":
        codes = columns.take(source, TensorProto.INT64)
        dtype = np.int64
    else:
        codes = columns.take(source, TensorProto.DOUBLE)
        integer = graph.op("Equal", codes, graph.op("Floor", codes))
        codes = graph.op("Where", integer, codes, graph.const(np.float64(-1)))
        dtype = np.float64
    # clip before casting, which is undefined out of the int64 range
    clipped = graph.op(
        "Max",
        graph.op("Min", codes, graph.const((largest + 1).astype(dtype))),
        graph.const(dtype(-1)),
    )
    if kind != "integer":
        clipped = graph.cast(clipped, TensorProto.INT64)
    positions = graph.op(
        "Add", clipped, graph.const(first.reshape(1, -1).astype(np.int64), "first")
    )
    return positions, np.concatenate(blocks)


def _filled(graph, value, shape):
    """A tensor of shape ``shape`` (n, 1) filled with ``value``."""
    return graph.op("Expand", graph.const(np.full((1, 1), value)), shape)


def _concat(graph, parts):
    return parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=1)


# the model --------------------------------------------------------------------
def _logits(graph, model, columns):
    """The module's raw outputs, ``(n, n_outputs)`` float32.

    Sums over fields and embedding dimensions are matrix products with
    constant 0/1 matrices, which onnxruntime runs faster than reductions.
    """
    layout = model.input_layout_
    _check_single_valued(layout, type(model).__name__)
    module = model.net_.export_module()
    first_order = _numpy(module.linear.weight.weight)  # (n_embeddings, n_outputs)
    table = _numpy(module.embedding.weight)  # (n_embeddings, dim)
    bias = _numpy(module.linear.bias)
    n_outputs, dim = first_order.shape[1], table.shape[1]
    # the FM maps its interaction vector to the outputs: a sum with one output
    if module.fm.projection is None:
        projection = np.ones((dim, 1), dtype=np.float32)
    else:
        projection = _numpy(module.fm.projection).T
    half = 0.5 * projection
    interactions = not module.linear_only
    if layout.sparse:
        X = columns.all(TensorProto.FLOAT)
        first = graph.op("MatMul", X, graph.const(first_order, "first_order"))
        if interactions:
            # a field's deep input is the sum of its columns' embeddings
            # scaled by their values: X[:, columns] @ table[columns]
            pooled = [
                graph.op(
                    "MatMul",
                    _field_columns(graph, X, field, layout),
                    graph.const(table[list(field.columns)], "embedding"),
                )
                for field in layout.fields
            ]
            deep_input = _concat(graph, pooled)
            summed = pooled[0] if len(pooled) == 1 else graph.op("Sum", *pooled)
            # the FM pairs fields (pooled vectors), not columns
            squares = graph.op(
                "MatMul",
                graph.op("Mul", deep_input, deep_input),
                graph.const(_stacked(half, layout.n_fields)),
            )
    else:
        positions, values, position_rows = _slots(graph, columns, layout)
        # one gather reads each slot's embedding and first-order weights
        width = dim if interactions else 0
        merged = np.concatenate([table[:, :width], first_order], axis=1)
        rows = positions
        if position_rows.size > merged.shape[0]:
            # a code's position to its row, then the row: the table once in
            # the graph (gathered by position, it held each code field's rows
            # once more per code: 47 against 13 MiB for 315,006 rows, 4
            # fields of codes below 200,000)
            rows = graph.op("Gather", graph.const(position_rows), positions)
        slots = graph.op("Gather", graph.const(merged), rows)
        if values is not None:
            # (n, n_fields) to (n, n_fields, 1); a shape of [0, -1, 1]
            # could not infer -1 from a batch of no row
            shape = graph.const(np.array([-1, layout.n_fields, 1], dtype=np.int64))
            slots = graph.op("Mul", slots, graph.op("Reshape", values, shape))
        # sums over the fields: (n, width + n_outputs), embeddings then first order
        sums = graph.op(
            "MatMul",
            graph.op("Flatten", slots, axis=1),
            graph.const(_stacked(np.eye(width + n_outputs), layout.n_fields)),
        )
        first = _columns_between(graph, sums, width, width + n_outputs)
        if interactions:
            embedded = graph.op(
                "Slice",
                slots,
                graph.const(np.array([0], dtype=np.int64)),
                graph.const(np.array([dim], dtype=np.int64)),
                graph.const(np.array([2], dtype=np.int64)),
            )
            deep_input = graph.op("Flatten", embedded, axis=1)
            summed = _columns_between(graph, sums, 0, dim)
            squares = graph.op(
                "MatMul",
                graph.op("Mul", deep_input, deep_input),
                graph.const(_stacked(half, layout.n_fields)),
            )
    if module.crosses.pairs.shape[0]:
        if layout.sparse:
            rows = _single_columns(graph, X, layout)
        first = graph.op("Add", first, _crossed(graph, module.crosses, rows))
    if not interactions:
        return graph.op("Add", first, graph.const(bias, "bias"))
    # FM: 0.5 * ((sum_i e_i)^2 - sum_i e_i^2), mapped to the outputs
    fm = graph.op(
        "Sub",
        graph.op("MatMul", graph.op("Mul", summed, summed), graph.const(half)),
        squares,
    )
    hidden = deep_input
    layers = module.mlp.affine_layers()
    for position, (weight, layer_bias) in enumerate(layers):
        last = position == len(layers) - 1
        if last:  # the first-order bias joins the output layer's
            layer_bias = layer_bias + bias
        hidden = graph.op(
            "Gemm",
            hidden,
            graph.const(weight, "weight"),
            graph.const(layer_bias, "bias"),
            transB=1,
        )
        if not last:
            hidden = graph.op("Relu", hidden)
    return graph.op("Sum", first, fm, hidden)


def _single_columns(graph, X, layout):
    """For a sparse matrix (as a dense float tensor ``X``), the embedding row
    (its column) of each field's one non-zero column, ``(n, n_fields)``
    int64, -1 where the field has none or several, as
    ``DeepFM._category_rows`` reads the rows."""
    parts = []
    for field in layout.fields:
        block = _field_columns(graph, X, field, layout)
        active = graph.cast(
            graph.op("Not", graph.op("Equal", block, graph.const(np.float32(0)))),
            TensorProto.FLOAT,
        )
        position = graph.op("ArgMax", active, axis=1, keepdims=1)
        column = graph.op(
            "Gather", graph.const(np.array(field.columns, dtype=np.int64)), position
        )
        single = graph.op(
            "Equal", graph.reduce_sum(active, 1), graph.const(np.float32(1))
        )
        minus_one = graph.const(np.array([[-1]], dtype=np.int64))
        parts.append(graph.op("Where", single, column, minus_one))
    return _concat(graph, parts)


def _crossed(graph, crosses, rows):
    """The crossed first-order term (see :mod:`sklearn_deepfm._crosses`),
    ``(n, n_outputs)``, from the embedding rows of the fields, ``(n,
    n_fields)`` int64 (-1: no single value): each cross's key looked up
    among the seen keys by a LabelEncoder, the unseen ones (and those of a
    -1, whose keys are negative or end in 2**31 - 1, never a row) reading
    the zero last row."""
    pairs = crosses.pairs.cpu().numpy()
    keys = crosses.keys.cpu().numpy()
    weight = _numpy(crosses.weight)
    left, right = (
        graph.op("Gather", rows, graph.const(pairs[:, side].copy()), axis=1)
        for side in (0, 1)
    )
    key = graph.op("Add", graph.op("Mul", left, graph.const(np.array(KEY_BASE))), right)
    codes = graph.op(
        "LabelEncoder",
        key,
        domain="ai.onnx.ml",
        version=ML_OPSET,
        keys_int64s=[int(value) for value in keys],
        values_int64s=list(range(len(keys))),
        default_int64=len(keys),
    )
    terms = graph.op("Gather", graph.const(weight, "crosses"), codes)
    return graph.reduce_sum(terms, axis=1, keepdims=0)


def _infinite_as_nan(graph, columns, layout, logits):
    """``logits`` with NaN in every row holding infinity in a float column of
    codes or numbers.

    ``predict`` raises for infinity, and a graph cannot: without this an
    infinite code read the unknown row and gave a plausible probability, and
    an infinite number NaN or a probability of 0 or 1.  Its 4 nodes cost
    1.7 us a call (28 against 26 us for one row of 26 float codes,
    onnxruntime on one thread) and under 1% of 1,000 rows.  One-hot blocks
    and sparse layouts are left out: checking their 1,600 columns cost 21%
    and 30% of 1,000 rows.
    """
    floats = sorted(
        {
            field.columns[0]
            for field in layout.fields
            if not layout.sparse
            and field.kind in (CATEGORICAL, NUMERIC)
            and columns.proto_type(field.columns[0])
            in (TensorProto.FLOAT, TensorProto.DOUBLE)
        }
    )
    if not floats:  # integers, booleans and strings cannot be infinite
        return logits
    double = any(columns.proto_type(c) == TensorProto.DOUBLE for c in floats)
    values = columns.take(floats, TensorProto.DOUBLE if double else TensorProto.FLOAT)
    # NaN where a value is infinite, summed over the row into every output
    poison = graph.op(
        "Where",
        graph.op("IsInf", values),
        graph.const(np.float32(np.nan)),
        graph.const(np.float32(0)),
    )
    row_sum = graph.const(np.ones((len(floats), 1), dtype=np.float32))
    return graph.op("Add", logits, graph.op("MatMul", poison, row_sum))


def _check_single_valued(layout, estimator_name):
    for field in layout.fields:
        if field.kind == MULTIVALUED:
            raise RuntimeError(
                f"{estimator_name} has a multi-valued field (field {field.field}, "
                f"{field.names[0]!r}), which the ONNX converter does not support: "
                "an ONNX tensor holds one value per cell. Export the network "
                "with sklearn_deepfm.export (TorchScript or torch.export) and "
                "encode the rows with sklearn_deepfm.export.encode instead."
            )


def _columns_between(graph, tensor, start, stop):
    """Columns ``start:stop`` of a 2-D tensor."""
    return graph.op(
        "Slice",
        tensor,
        graph.const(np.array([start], dtype=np.int64)),
        graph.const(np.array([stop], dtype=np.int64)),
        graph.const(np.array([1], dtype=np.int64)),
    )


def _stacked(matrix, n_fields):
    """``matrix`` repeated down ``n_fields`` times, float32: a product with
    it sums the fields of a flattened ``(n, n_fields * rows)`` tensor."""
    return np.tile(np.asarray(matrix, dtype=np.float32), (n_fields, 1))


def _field_columns(graph, X, field, layout):
    if len(field.columns) == layout.n_features_in:
        return X
    index = graph.const(np.array(field.columns, dtype=np.int64), "columns")
    return graph.op("Gather", X, index, axis=1)


def _numpy(parameter):
    return parameter.detach().cpu().float().numpy()


def _input_columns(graph, operator):
    model = operator.raw_operator
    _check_opset(graph.container, type(model).__name__)
    return _Columns(
        graph,
        operator.inputs,
        model.input_layout_.n_features_in,
        type(model).__name__,
    )


def _check_opset(container, estimator_name):
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise RuntimeError(
            f"Converting {estimator_name} needs target_opset >= {MIN_OPSET}, "
            f"got {opset}."
        )


def _is_double(variable):
    return isinstance(variable.type, DoubleTensorType)


def _float_type(variable):
    """The output type: float32, or float64 where skl2onnx declared it."""
    return DoubleTensorType if _is_double(variable) else FloatTensorType


def _to_output(graph, name, variable):
    """Write float32 ``name`` to the output ``variable`` (float64 if it is)."""
    if _is_double(variable):
        graph.op("Cast", name, output=variable.onnx_name, to=TensorProto.DOUBLE)
    else:
        graph.op("Identity", name, output=variable.onnx_name)


# classifier -------------------------------------------------------------------
def _class_labels(model, options):
    """The labels the graph outputs: ``classes_`` as int64 or strings
    (skl2onnx's label types), or the class indices with option ``nocl``."""
    classes = model.classes_
    if options.get("nocl"):
        return np.arange(len(classes), dtype=np.int64)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if np.any(classes != np.round(classes)):
            raise RuntimeError(
                "skl2onnx outputs integer or string labels; the classes "
                f"{classes.tolist()} are neither. Encode the target first."
            )
        return classes.astype(np.int64)
    return np.array([str(label) for label in classes], dtype=object)


def _classifier_shapes(operator):
    model = operator.raw_operator
    options = operator.scope_inst.get_options(model, dict(nocl=False))
    n_rows = operator.inputs[0].get_first_dimension()
    labels = _class_labels(model, options)
    label_type = StringTensorType if labels.dtype == object else Int64TensorType
    operator.outputs[0].type = label_type([n_rows])
    operator.outputs[1].type = _float_type(operator.outputs[1])([n_rows, len(labels)])


def _convert_classifier(scope, operator, container):
    graph = _Graph(scope, container)
    model = operator.raw_operator
    columns = _input_columns(graph, operator)
    logits = _logits(graph, model, columns)
    logits = _infinite_as_nan(graph, columns, model.input_layout_, logits)
    if len(model.classes_) == 2:
        positive = graph.op("Sigmoid", logits)
        negative = graph.op("Sub", graph.const(np.float32(1)), positive)
        probabilities = graph.op("Concat", negative, positive, axis=1)
        index = graph.op(
            "Reshape",
            graph.cast(
                graph.op("Greater", logits, graph.const(np.float32(0))),
                TensorProto.INT64,
            ),
            graph.const(np.array([-1], dtype=np.int64)),
        )
    else:
        probabilities = graph.op("Softmax", logits, axis=1)
        index = graph.op("ArgMax", logits, axis=1, keepdims=0)
    options = container.get_options(model, dict(nocl=False))
    labels = graph.const(_class_labels(model, options), "classes")
    graph.op("Gather", labels, index, output=operator.outputs[0].onnx_name)
    _to_output(graph, probabilities, operator.outputs[1])


# regressor --------------------------------------------------------------------
def _regressor_shapes(operator):
    """float64 where skl2onnx declared it (a float64 first input) or any
    input is float64: a DataFrame whose first column is strings gave a
    float32 output, which lost what the target's offset hides."""
    n_rows = operator.inputs[0].get_first_dimension()
    output = operator.outputs[0]
    double = _is_double(output) or any(_is_double(i) for i in operator.inputs)
    kind = DoubleTensorType if double else FloatTensorType
    output.type = kind([n_rows, 1])


def _convert_regressor(scope, operator, container):
    graph = _Graph(scope, container)
    model = operator.raw_operator
    columns = _input_columns(graph, operator)
    logits = _logits(graph, model, columns)
    logits = _infinite_as_nan(graph, columns, model.input_layout_, logits)
    scale, shift = model._target_scale()
    output = operator.outputs[0]
    dtype = np.float32
    if _is_double(output):
        # scaled and shifted in float64, as predict: in float32, a target of
        # 1e6 + 0.001 * signal fell from R2 0.98 to -0.01
        logits, dtype = graph.cast(logits, TensorProto.DOUBLE), np.float64
    prediction = graph.op(
        "Add",
        graph.op("Mul", logits, graph.const(dtype(scale))),
        graph.const(dtype(shift)),
    )
    graph.op("Identity", prediction, output=output.onnx_name)


update_registered_converter(
    DeepFMClassifier,
    "SklearnDeepFMClassifier",
    _classifier_shapes,
    _convert_classifier,
    options={
        "zipmap": [True, False, "columns"],
        "nocl": [True, False],
        "output_class_labels": [False, True],
    },
)
update_registered_converter(
    DeepFMRegressor,
    "SklearnDeepFMRegressor",
    _regressor_shapes,
    _convert_regressor,
)


def onnx_inputs(X, model):
    """onnxruntime's inputs for the rows of a DataFrame, by its own column names.

    skl2onnx converts a model fitted on a DataFrame into a graph with one
    input per column, in the order of the columns, each named after its
    column made an identifier (``education-num`` becomes ``education_num``,
    ``2nd`` becomes ``_2nd``).  This gives every column of ``X`` to the input
    of the same position, as an array of shape ``(n_samples, 1)`` of the
    input's type: numbers cast to it, strings as ``str`` objects, and a
    missing string (None, NaN or pandas' NA) as ``MISSING_STRING``,
    which the graph reads as the unknown category, as ``predict`` reads a
    missing value.  A polars DataFrame is read as its ``to_pandas()``.

    It raises, as ``predict`` does, a ValueError for infinity and for a
    value that an integer or boolean input cannot hold (a missing value,
    2.5): cast, it would read another category than ``predict`` reads
    (convert the model from an example whose column is float to serve
    those); and a TypeError for dates, times and durations, numbers given
    to a string input and strings given to a number input.

    Parameters
    ----------
    X : pandas.DataFrame
        Rows with the columns of the DataFrame the model was converted from
        (``feature_names_in_``), in the same order.
    model : onnx.ModelProto or onnxruntime.InferenceSession
        The converted graph, or a session running it.

    Returns
    -------
    dict of str to ndarray
        The inputs of ``session.run(None, inputs)``.

    Examples
    --------
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn_deepfm import DeepFMClassifier
    >>> from sklearn_deepfm.onnx import onnx_inputs
    >>> from sklearn_deepfm.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> X = X[["age", "education-num", "occupation"]][:2000]
    >>> model = DeepFMClassifier(max_epochs=2, random_state=0).fit(X, y[:2000])
    >>> onx = to_onnx(model, X[:1], options={"zipmap": False})
    >>> [i.name for i in onx.graph.input]
    ['age', 'education_num', 'occupation']
    >>> session = ort.InferenceSession(
    ...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> label, probabilities = session.run(None, onnx_inputs(X[:5], session))
    """
    if type(X).__module__.split(".")[0] == "polars":
        # one reading of the cells: polars' own errors came out of Decimal
        # and infinite values
        X = X.to_pandas()
    if not hasattr(X, "columns"):
        # (an array met "'numpy.ndarray' object has no attribute 'columns'")
        raise TypeError(
            f"onnx_inputs reads a DataFrame's columns by name and got "
            f"{type(X).__name__}. A graph converted from an array has one "
            "input: feed it the array itself, as {input name: X}."
        )
    inputs = _graph_inputs(model)
    columns = [str(column) for column in X.columns]
    if len(columns) != len(inputs) or not all(
        _onnx_name_of(column, name)
        for column, (name, _) in zip(columns, inputs, strict=True)
    ):
        raise ValueError(
            f"X has the columns {columns} and the graph the inputs "
            f"{[name for name, _ in inputs]}: pass the columns the model was "
            "converted from (feature_names_in_), in the same order."
        )
    feeds = {}
    for (name, dtype), column in zip(inputs, X.columns, strict=True):
        series = X[column]  # once: a column lookup costs about 10 us
        if _is_temporal(series.dtype):
            _raise_temporal(f"Column {column!r}", series.dtype)
        if dtype is object:
            values = _strings(series, name)
        else:
            values = _numbers(series, name, dtype)
        feeds[name] = values.reshape(-1, 1)
    return feeds


def _strings(column, name):
    """``column`` for the string input ``name``: its labels as ``str``, a
    missing cell as :data:`MISSING_STRING`; a TypeError, as ``predict``
    raises, for a number (4 was read as the label '4')."""
    values = []
    for value in column.to_numpy():
        if isinstance(value, str):
            values.append(str(value))
        elif _is_missing(value):
            values.append(MISSING_STRING)
        else:
            value = value.item() if isinstance(value, np.generic) else value
            raise TypeError(
                f"Column {column.name!r} holds {value!r}, not a string, and the "
                f"graph input {name!r} is a string input (the model was fitted "
                "on string labels); predict refuses it too, as the label "
                f"{str(value)!r} and the value {value!r} are different "
                "categories. Pass the column as strings, as in fit (for example "
                f"with {strings_advice(value)})."
            )
    return np.array(values, dtype=object)


def _numbers(column, name, dtype):
    """``column`` (a Series) as the number type ``dtype`` of the graph's input
    ``name``, refusing infinity, as ``predict`` does, and any value the cast
    would change: NaN or 2.5 cast to int64 (INT64_MIN, 2) would read
    another category than ``predict`` reads (the unknown one)."""
    values = column.to_numpy()
    if values.dtype.kind in "biuf":  # plain NumPy numbers, no pandas NA
        return _numpy_numbers(column, values, name, dtype)
    if _holds_strings(column):
        # parsed, '01', '1.0' and '1' were all the code 1
        example = next((v for v in values if isinstance(v, (str, bytes))), None)
        raise TypeError(
            f"Column {column.name!r} holds strings, such as {example!r}, and the "
            f"graph input {name!r} is a number input (the model was fitted on "
            "numbers or codes); predict refuses them too. Pass numbers, as in "
            "fit."
        )
    if np.issubdtype(dtype, np.floating):
        with np.errstate(over="ignore"):  # too large: infinite, refused below
            values = column.to_numpy(dtype=dtype, na_value=np.nan)
        _check_finite(column, values, dtype)
        return values
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValueError(_inexact_message(column, missing, name, dtype))
    values = column.infer_objects().to_numpy()  # numbers held as objects
    if values.dtype.kind == "f":
        _check_finite(column, values, values.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        cast = values.astype(dtype)
    changed = cast != values
    if changed.any():
        raise ValueError(_inexact_message(column, changed, name, dtype))
    return cast


def _numpy_numbers(column, values, name, dtype):
    """:func:`_numbers` of a column held as NumPy numbers, in NumPy alone: a
    row's feeds cost about 1 us a column, where pandas' ``isna`` alone took
    11 (a 1-row request of 18 columns: 210 us, 655 with pandas' checks)."""
    if values.dtype.kind == "f":
        _check_finite(column, values, values.dtype)
    if values.dtype == dtype:
        return values
    if np.dtype(dtype).kind == "f":
        with np.errstate(over="ignore"):
            cast = values.astype(dtype)
        _check_finite(column, cast, dtype)  # a float64 too large for float32
        return cast
    with np.errstate(invalid="ignore", over="ignore"):
        cast = values.astype(dtype)
    changed = cast != values  # NaN, 2.5, or 2 for a boolean
    if changed.any():
        raise ValueError(_inexact_message(column, changed, name, dtype))
    return cast


def _check_finite(column, values, dtype):
    infinite = np.isinf(values)
    if infinite.any():
        value = _first(column, infinite)
        infinite = isinstance(value, float) and np.isinf(value)
        overflow = "" if infinite else f" ({value!r} as {np.dtype(dtype)})"
        raise ValueError(
            f"X contains infinity in column {column.name!r}{overflow}. "
            "Infinity is neither a category nor a usable quantity, and predict "
            "refuses it too: replace it (for example with NaN, which a "
            "categorical column reads as missing)."
        )


def _inexact_message(column, wrong, name, dtype):
    kind = np.dtype(dtype).name
    if kind == "bool":
        advice = (
            "Give the column booleans only, or convert the model from an "
            "example whose column is float, which reads a missing value as "
            "predict does."
        )
    else:
        advice = (
            "Convert the model from an example whose column is float, such as "
            f"X[:1].astype({{{column.name!r}: float}}): that graph reads missing "
            "and non-integer values as predict does. Or fill the missing values "
            "before predicting."
        )
    return (
        f"Column {column.name!r} holds {_first(column, wrong)!r}, which the "
        f"{kind} graph input {name!r} cannot hold (the model was converted from "
        f"an example whose column was {kind}): cast, it would read another value "
        f"than predict reads. {advice}"
    )


def _first(column, where):
    """The first value of ``column`` where ``where`` holds, as Python has it."""
    value = column.iloc[int(np.argmax(where))]
    return value.item() if isinstance(value, np.generic) else value


def _graph_inputs(model):
    """(name, numpy dtype; object for strings) of every input of ``model``."""
    if hasattr(model, "get_inputs"):  # an onnxruntime session
        kinds = {
            "tensor(string)": object,
            "tensor(float)": np.float32,
            "tensor(double)": np.float64,
            "tensor(int64)": np.int64,
            "tensor(int32)": np.int32,
            "tensor(bool)": np.bool_,
        }
        return [(i.name, kinds[i.type]) for i in model.get_inputs()]
    inputs = []
    for i in model.graph.input:
        kind = i.type.tensor_type.elem_type
        if kind == TensorProto.STRING:
            inputs.append((i.name, object))
        else:
            inputs.append((i.name, helper.tensor_dtype_to_np_dtype(kind)))
    return inputs


def _onnx_name_of(column, name):
    """Whether ``name`` is skl2onnx's input name for ``column``: the column
    made an identifier, with a number appended when that name was taken."""
    identifier = re.sub(r"[^\w+]", "_", column)
    if re.match("^[0-9]", identifier):
        identifier = "_" + identifier
    return name == column or re.fullmatch(re.escape(identifier) + "[0-9]*", name)
