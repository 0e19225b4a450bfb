"""What ``fit`` decided about the input: the fields, how each is read, and
which embedding rows it owns.

:class:`InputLayout` is the public, printable description of a fitted
encoder (the estimators expose it as ``input_layout_``).  Everything that
applies the fitted input rule outside the encoder (the ONNX converter, a
user checking the model) reads it from here.
"""

from dataclasses import dataclass

import numpy as np

from ._packing import packed_ints, packed_strings, unpacked_ints, unpacked_strings

# Field kinds.
CATEGORICAL = "categorical"  # one column of codes or labels; row 0 is unknown
INDICATOR = "indicator"  # dense 0/1 columns of one one-hot block; row 0: none set
NUMERIC = "numeric"  # one standardised column scaling one embedding row
SPARSE = "sparse"  # columns of a sparse matrix, each one row scaled by its value
MULTIVALUED = "multivalued"  # any number of values per row, pooled into one vector


@dataclass(frozen=True)
class FieldLayout:
    """One field of the deep part and the input columns it is read from.

    Attributes
    ----------
    field : int
        Field id (position in the deep part's input).
    columns : tuple of int
        Input columns of the field.
    names : tuple of str
        Names of those columns (``'x3'`` for column 3 when X had no names).
    kind : {'categorical', 'indicator', 'numeric', 'sparse', 'multivalued'}
        How the columns are read:

        - ``'categorical'``: one column; each category seen in ``fit`` owns an
          embedding row, and row ``offset`` (the unknown row) receives
          categories never seen, negative codes and missing values;
        - ``'indicator'``: several dense 0/1 columns of one one-hot block
          (``pd.get_dummies``, a densified ``OneHotEncoder``); the active
          column's row is used, and row ``offset`` when none is set;
        - ``'numeric'``: one column, standardised with ``mean`` and
          ``scale``, scaling the single row ``offset``;
        - ``'sparse'``: columns of a sparse matrix; column ``c`` owns row
          ``c`` (the field's ``k``-th column row ``offset + k`` when the
          matrix also has multi-valued fields), scaled by the stored value
          (no standardisation);
        - ``'multivalued'``: a column whose cells are lists of values (or
          a multi-hot block of a sparse matrix declared as one field with
          ``fields``); each value seen in ``fit`` owns an embedding row, row
          ``offset`` receives values never seen and missing cells, row
          ``offset + 1`` the empty list, and a row's values are pooled into
          one vector (``pooling``: their mean or sum).
    offset : int
        First embedding row of the field (dense input); for sparse input
        without multi-valued fields the rows are the column indices
        themselves.
    n_embeddings : int
        Embedding rows the field owns.
    categories : ndarray or None
        Categories in row order (row ``offset + 1 + i`` is ``categories[i]``)
        for categorical and indicator fields (the column names of an
        indicator block); the values of a multi-valued field (row ``offset +
        2 + i`` is ``categories[i]``; the column names of a sparse block);
        else None.
    mean, scale : float or None
        Standardisation of a numeric field, else None.
    pooling : {'mean', 'sum'} or None
        How a multi-valued field pools its values, else None.
    number_of : int or None
        For a numeric field that reads the number of a whole-number column
        also read as categories (a quantity, such as an age in years): the id
        of that categorical field.  Missing values then scale the row by 0
        (the mean).  Else None.
    """

    field: int
    columns: tuple
    names: tuple
    kind: str
    offset: int
    n_embeddings: int
    categories: object = None
    mean: float | None = None
    scale: float | None = None
    pooling: str | None = None
    number_of: int | None = None

    def __getstate__(self):
        # compact for skops (see _packing): indices as an array, strings as
        # a string array
        state = dict(self.__dict__)
        state["columns"] = packed_ints(state["columns"])
        state["names"] = packed_strings(state["names"])
        state["categories"] = packed_strings(state["categories"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["columns"] = unpacked_ints(state["columns"])
        state["names"] = unpacked_strings(state["names"])
        state["categories"] = unpacked_strings(state.get("categories"))
        self.__dict__.update(state)  # (frozen: as pickle's own restore does)

    @property
    def first_value_row(self):
        """Embedding row of the field's first category or value (rows
        before it are the unknown row and, multi-valued, the empty row)."""
        return self.offset + (2 if self.kind == MULTIVALUED else 1)

    def summary(self):
        """One line: how the field is read and what it owns."""
        if self.kind == NUMERIC:
            scaling = f"mean {self.mean:.4g}, scale {self.scale:.4g}"
            if self.number_of is not None:
                return (
                    f"numeric, the number of field {self.number_of}'s categories, "
                    f"{scaling}, missing values at the mean"
                )
            return f"numeric, {scaling}"
        if self.kind == SPARSE:
            return f"{len(self.columns)} sparse column(s), each scaling its own row"
        n_categories = len(self.categories)
        if self.kind == MULTIVALUED:
            return (
                f"multi-valued ({self.pooling} of its values), {n_categories:,} "
                "values + 1 unknown row + 1 empty-list row"
            )
        what = "categories" if self.kind == CATEGORICAL else "0/1 columns"
        return f"{self.kind}, {n_categories:,} {what} + 1 unknown row"


@dataclass(frozen=True)
class InputLayout:
    """The fitted input rule: every field, in the order the deep part sees them.

    Print it to see what ``fit`` decided.

    Attributes
    ----------
    fields : tuple of FieldLayout
    n_features_in : int
        Columns of the training input.
    n_embeddings : int
        Rows of the shared embedding table.
    sparse : bool
        Whether the input was read as a sparse matrix (fields of columns)
        rather than column by column.
    """

    fields: tuple
    n_features_in: int
    n_embeddings: int
    sparse: bool

    @property
    def n_fields(self):
        return len(self.fields)

    @property
    def multivalued(self):
        """Ids of the multi-valued fields (pooled from bags of values)."""
        return tuple(f.field for f in self.fields if f.kind == MULTIVALUED)

    @property
    def is_categorical(self):
        """Per input column: read as categorical (None for sparse input); a
        whole-number column read as categories and also as a number is."""
        if self.sparse:
            return None
        mask = np.zeros(self.n_features_in, dtype=bool)
        for field in self.fields:
            if field.number_of is None:
                mask[list(field.columns)] = field.kind != NUMERIC
        return mask

    @property
    def column_fields(self):
        """Field id of each input column (for a column also read as a number,
        the field of its categories)."""
        fields = np.empty(self.n_features_in, dtype=np.int64)
        for field in self.fields:
            if field.number_of is None:
                fields[list(field.columns)] = field.field
        return fields

    def __str__(self):
        source = "a sparse matrix" if self.sparse else "columns"
        lines = [
            f"{self.n_fields} field(s) read from {source} of "
            f"{self.n_features_in} column(s); {self.n_embeddings:,} embedding rows"
        ]
        for field in self.fields:
            lines.append(f"  field {field.field}: {_names(field)}: {field.summary()}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<InputLayout\n{self}\n>"


def _names(field, shown=3):
    names = list(field.names[:shown])
    more = len(field.names) - shown
    text = ", ".join(repr(name) for name in names)
    return text + (f" and {more} more" if more > 0 else "")
