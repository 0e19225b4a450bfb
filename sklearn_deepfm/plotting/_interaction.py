"""Field-by-field map of the pairwise interactions learned by the FM part."""

import numbers

import numpy as np

from .._caller import warn
from .._linear import design_matrix
from ._common import import_pyplot, split_estimator


def _field_rows(model):
    """Embedding rows of the known features of each field (a list of arrays),
    from the fitted ``input_layout_``: the unknown row of a categorical field
    is left out; for sparse input, row ``j`` is column ``j``."""
    layout = model.input_layout_
    # a sparse layout maps column j to row j unless it has multi-valued fields
    rows_are_columns = not layout.multivalued
    rows = []
    for field in layout.fields:
        if field.kind == "sparse" and rows_are_columns:
            rows.append(np.asarray(field.columns, dtype=np.int64))
        elif field.kind in ("numeric", "sparse"):
            rows.append(np.arange(field.offset, field.offset + field.n_embeddings))
        else:
            end = field.offset + field.n_embeddings
            rows.append(np.arange(field.first_value_row, end))
    return rows


def _feature_weights(model, X):
    """Sum over the rows of ``X`` of each feature's absolute value, per
    embedding row (its number of occurrences for a category)."""
    encoded = model._encode(X)
    n_embeddings = model.net_.module_.embedding.weight.shape[0]
    bags = getattr(encoded, "bags", None)
    if bags is not None:  # bags (and slots): the design matrix's columns
        matrix = design_matrix(encoded, n_embeddings)
        return np.asarray(abs(matrix).sum(axis=0), dtype=np.float64).ravel()
    indices = encoded.indices.ravel()
    values = None if encoded.values is None else np.abs(encoded.values).ravel()
    return np.bincount(indices, weights=values, minlength=n_embeddings).astype(
        np.float64
    )


def _keep(rows, weights, max_features, rng):
    """At most ``max_features`` of ``rows``: the most frequent ones when
    weights are known, else a random subset."""
    if max_features is None or rows.size <= max_features:
        return rows
    if weights is None:
        return np.sort(rng.choice(rows, size=max_features, replace=False))
    order = np.argsort(-weights[rows], kind="stable")
    return np.sort(rows[order[:max_features]])


def field_interactions(model, X=None, max_features_per_field=1000):
    """Mean absolute inner product of the embeddings of every pair of fields.

    Returns an array of shape (n_fields, n_fields), symmetric, NaN on the
    diagonal and for fields without any known feature (or, with ``X``,
    without any occurrence in ``X``).  Zero elsewhere, with a warning, when
    the recipe dropped the FM and deep parts (``interactions_kept_`` is
    False): the embeddings are then not used by the model.
    """
    embedding = model.net_.module_.embedding.weight
    vectors = embedding.detach().cpu().numpy().astype(np.float64)
    if model.net_.linear_only():
        warn(
            "The recipe dropped the model's factorization machine and deep "
            "part (interactions_kept_ is False): they score no pair of fields, "
            "and the map is zero. Pairwise crosses the recipe kept "
            "(crosses_kept_) show in FieldInteractionDisplay.from_explanation."
        )
        vectors = np.zeros_like(vectors)
    weights = None if X is None else _feature_weights(model, X)
    rng = np.random.default_rng(0)
    rows = [
        _keep(field_rows, weights, max_features_per_field, rng)
        for field_rows in _field_rows(model)
    ]
    shares = []
    for field_rows in rows:
        if weights is None:
            field_weights = np.ones(field_rows.size)
        else:
            field_weights = weights[field_rows]
        total = field_weights.sum()
        shares.append(field_weights / total if total > 0 else None)

    n_fields = len(rows)
    interactions = np.full((n_fields, n_fields), np.nan)
    for f in range(n_fields):
        for g in range(f + 1, n_fields):
            if shares[f] is None or shares[g] is None:
                continue
            products = np.abs(vectors[rows[f]] @ vectors[rows[g]].T)
            interactions[f, g] = interactions[g, f] = shares[f] @ products @ shares[g]
    return interactions


class FieldInteractionDisplay:
    """Heatmap of the strength of the learned interaction of every pair of
    fields.

    DeepFM's factorization machine scores a pair of active features ``i``
    and ``j`` with the inner product ``<v_i, v_j>`` of their embeddings
    (times the features' values).  The cell of fields ``f`` and ``g`` is the
    mean of ``|<v_i, v_j>|`` over the pairs of a feature ``i`` of ``f`` and a
    feature ``j`` of ``g``: large cells mark field pairs whose combination
    the model found informative.  Build it with :meth:`from_estimator` (from
    the embeddings alone) or :meth:`from_explanation` (from the pairs' terms
    in the outputs of explained rows); all parameters are stored as
    attributes.

    Parameters
    ----------
    interactions : ndarray of shape (n_fields, n_fields)
        Symmetric matrix of mean absolute inner products, NaN on the
        diagonal (features of one field never interact in a one-hot row).
    field_names : list of str of shape (n_fields,)
        Tick labels.
    weighted : bool, default=False
        Whether the means are weighted by how often the features occur; only
        changes the colour bar's label.
    colorbar_label : str, default=None
        Label of the colour bar; None describes the mean absolute inner
        products of :meth:`from_estimator`.

    Attributes
    ----------
    im_ : matplotlib AxesImage
        Image representing the matrix.
    text_ : ndarray of shape (n_fields, n_fields) of matplotlib Text or None
        The values written in the cells, None when ``include_values`` is
        False; diagonal entries are None.
    colorbar_ : matplotlib Colorbar or None
        The colour bar, None when ``colorbar`` is False.
    ax_ : matplotlib Axes
        Axes with the heatmap.
    figure_ : matplotlib Figure
        Figure containing the heatmap.

    See Also
    --------
    LearningCurveDisplay : Training and validation loss per epoch.
    sklearn_deepfm.Explanation : Per-row contributions of every field and
        pair of fields, drawn by :meth:`from_explanation`.

    Notes
    -----
    For a categorical column of a dense array or DataFrame, the features
    are its categories seen in ``fit``; the embedding of unknown categories
    is left out.  A numeric column is a single feature whose embedding is
    scaled by the standardised value, so its cells read per unit of
    standard deviation.  With sparse input every column is a feature of its
    field.  For a multiclass classifier the FM weighs each embedding
    dimension per class; the map shows the plain inner product.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_deepfm import DeepFMClassifier
    >>> from sklearn_deepfm.datasets import make_ctr_classification
    >>> from sklearn_deepfm.plotting import FieldInteractionDisplay
    >>> X, y = make_ctr_classification(
    ...     n_samples=3000, n_fields=4, cardinalities=10, interaction_strength=3.0,
    ...     random_state=0,
    ... )
    >>> model = DeepFMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> model.interactions_kept_
    True
    >>> display = FieldInteractionDisplay.from_estimator(model, X)
    >>> display.interactions.shape
    (4, 4)
    >>> display.field_names
    ['field 0', 'field 1', 'field 2', 'field 3']
    """

    def __init__(
        self, interactions, field_names, *, weighted=False, colorbar_label=None
    ):
        self.interactions = interactions
        self.field_names = field_names
        self.weighted = weighted
        self.colorbar_label = colorbar_label

    def plot(
        self,
        ax=None,
        *,
        cmap="viridis",
        include_values=False,
        values_format=".2g",
        xticks_rotation="vertical",
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        cmap : str or matplotlib Colormap, default="viridis"
            Colormap of the cells; the diagonal is left blank.
        include_values : bool, default=False
            Whether to write the value of each cell in it.
        values_format : str, default=".2g"
            Format specification of the written values.
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="vertical"
            Rotation of the field names on the x axis.
        colorbar : bool, default=True
            Whether to add a colour bar.
        im_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.imshow`.
        text_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.text`.

        Returns
        -------
        display : FieldInteractionDisplay
            Object that stores the computed values and the plot.
        """
        plt = import_pyplot("FieldInteractionDisplay.plot")

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        interactions = np.asarray(self.interactions, dtype=np.float64)
        n_fields = interactions.shape[0]
        im_kw = {"interpolation": "nearest", "cmap": cmap, **(im_kw or {})}
        self.im_ = ax.imshow(interactions, **im_kw)

        self.text_ = None
        if include_values and np.isfinite(interactions).any():
            self.text_ = np.empty_like(interactions, dtype=object)
            cmap_low, cmap_high = self.im_.cmap(0.0), self.im_.cmap(1.0)
            middle = (np.nanmax(interactions) + np.nanmin(interactions)) / 2.0
            for f in range(n_fields):
                for g in range(n_fields):
                    value = interactions[f, g]
                    if not np.isfinite(value):
                        continue
                    color = cmap_high if value < middle else cmap_low
                    kwargs = {"ha": "center", "va": "center", "color": color}
                    kwargs.update(text_kw or {})
                    self.text_[f, g] = ax.text(
                        g, f, format(value, values_format), **kwargs
                    )

        self.colorbar_ = None
        if colorbar:
            label = self.colorbar_label
            if label is None:
                label = r"mean $|\langle v_i, v_j \rangle|$"
                if self.weighted:
                    label += " (weighted by frequency)"
            self.colorbar_ = ax.figure.colorbar(self.im_, ax=ax, label=label)
        ax.set(
            xticks=np.arange(n_fields),
            yticks=np.arange(n_fields),
            xticklabels=self.field_names,
            yticklabels=self.field_names,
            xlabel="field",
            ylabel="field",
        )
        plt.setp(ax.get_xticklabels(), rotation=xticks_rotation)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        *,
        field_names=None,
        max_features_per_field=1000,
        ax=None,
        cmap="viridis",
        include_values=False,
        values_format=".2g",
        xticks_rotation="vertical",
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the field interaction map of a fitted estimator.

        Parameters
        ----------
        estimator : DeepFMClassifier, DeepFMRegressor or Pipeline
            A fitted DeepFM estimator, or a fitted pipeline ending with one.
        X : {array-like, sparse matrix, DataFrame} of shape \
                (n_samples, n_features), default=None
            Data whose feature frequencies weight the means (passed through
            the pipeline's preprocessing steps first): the weight of a pair
            of features is the product of their number of occurrences in
            ``X`` (of their summed absolute values, for real-valued
            features; of a multi-valued value's pooled weights, one over its
            list's length with ``pooling='mean'``).  None gives every pair
            of known features the same weight.  Weighting keeps rare
            categories, whose embeddings saw few updates, from dominating
            the map.
        field_names : list of str of shape (n_fields,), default=None
            Tick labels.  None uses the column names seen in ``fit`` when
            every column is a field, the labels of the estimator's
            ``fields`` parameter when given, else ``"field 0"``,
            ``"field 1"``, ... (as for one-hot input from a pipeline).
        max_features_per_field : int or None, default=1000
            Fields with more features than this are represented by this many
            of them: the most frequent ones in ``X``, or a random subset
            (seeded, so the map is reproducible) when ``X`` is None.  The
            cost grows with the square of the number of features kept.
            None keeps all.
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        cmap : str or matplotlib Colormap, default="viridis"
            Colormap of the cells.
        include_values : bool, default=False
            Whether to write the value of each cell in it.
        values_format : str, default=".2g"
            Format specification of the written values.
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="vertical"
            Rotation of the field names on the x axis.
        colorbar : bool, default=True
            Whether to add a colour bar.
        im_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.imshow`.
        text_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.text`.

        Returns
        -------
        display : FieldInteractionDisplay
            Object that stores the computed values and the plot.
        """
        preprocessing, model = split_estimator(estimator, "FieldInteractionDisplay")
        if max_features_per_field is not None and (
            not isinstance(max_features_per_field, numbers.Integral)
            or isinstance(max_features_per_field, bool)
            or max_features_per_field < 1
        ):
            raise ValueError(
                "max_features_per_field must be a positive int or None, got "
                f"{max_features_per_field!r}."
            )
        if X is not None and preprocessing is not None:
            X = preprocessing.transform(X)
        interactions = field_interactions(model, X, max_features_per_field)
        if field_names is None:
            field_names = model._field_names()
        elif len(field_names) != model.n_fields_:
            raise ValueError(
                f"field_names has {len(field_names)} names but the estimator has "
                f"{model.n_fields_} fields."
            )
        display = cls(interactions, list(field_names), weighted=X is not None)
        return display.plot(
            ax=ax,
            cmap=cmap,
            include_values=include_values,
            values_format=values_format,
            xticks_rotation=xticks_rotation,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )

    @classmethod
    def from_explanation(
        cls,
        explanation,
        *,
        field_names=None,
        ax=None,
        cmap="viridis",
        include_values=False,
        values_format=".2g",
        xticks_rotation="vertical",
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the mean absolute pair term (FM term, plus the cross weight
        where crosses were mixed in) of every pair of fields in the rows of
        an explanation.

        The cell of fields ``f`` and ``g`` is the mean over the explained
        rows (and outputs) of ``|interaction_values[:, f, g]| * 2``, the
        size of the pair's term in the output (see
        :meth:`Explanation.pair_strength
        <sklearn_deepfm.Explanation.pair_strength>`): unlike
        :meth:`from_estimator`, it weighs the embeddings by the values the
        rows hold and reads in the units of the output.

        Parameters
        ----------
        explanation : Explanation
            From the ``explain`` method of a fitted estimator.
        field_names : list of str of shape (n_fields,), default=None
            Tick labels; None uses the explanation's ``feature_names``.
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        cmap : str or matplotlib Colormap, default="viridis"
            Colormap of the cells.
        include_values : bool, default=False
            Whether to write the value of each cell in it.
        values_format : str, default=".2g"
            Format specification of the written values.
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="vertical"
            Rotation of the field names on the x axis.
        colorbar : bool, default=True
            Whether to add a colour bar.
        im_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.imshow`.
        text_kw : dict, default=None
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.text`.

        Returns
        -------
        display : FieldInteractionDisplay
            Object that stores the computed values and the plot.
        """
        interactions = explanation.pair_strength()
        if field_names is None:
            field_names = explanation.feature_names
        elif len(field_names) != interactions.shape[0]:
            raise ValueError(
                f"field_names has {len(field_names)} names but the explanation "
                f"has {interactions.shape[0]} fields."
            )
        display = cls(
            interactions, list(field_names), colorbar_label="mean |pair term|"
        )
        return display.plot(
            ax=ax,
            cmap=cmap,
            include_values=include_values,
            values_format=values_format,
            xticks_rotation=xticks_rotation,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )
