"""DeepFMClassifier: binary and multiclass classification."""

import numpy as np
import torch
from scipy.special import expit, log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
)

from . import _distributed
from ._base import BaseDeepFM, fit_context


def _balanced(classes, y_index, sample_weight, X, shared):
    """class_weight='balanced' as a dict, as LogisticRegression computes it:
    the classes counted by ``sample_weight`` (a row of weight 0 counts
    nowhere; 1,500 of them in one class of HR's 3,000 rows had moved
    probabilities by up to 0.43), over every process's rows where
    ``shared``.  A class whose rows all weigh 0 gets 0."""
    weights = None
    if sample_weight is not None:
        weights = _check_sample_weight(
            sample_weight,
            X,
            dtype=np.float64,
            ensure_non_negative=True,
            allow_all_zero_weights=True,
        )
    counts = np.bincount(y_index, weights=weights, minlength=len(classes))
    if shared:
        (counts,) = _distributed.all_sum(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        balanced = counts.sum() / (len(classes) * counts)
    balanced[counts == 0] = 0.0
    return dict(zip(classes.tolist(), balanced.tolist(), strict=True))


class DeepFMClassifier(ClassifierMixin, BaseDeepFM):
    """DeepFM classifier: a factorization machine and a deep network sharing
    one embedding table (Guo et al., IJCAI 2017).

    The logit of a row ``x`` is ``bias + sum_i w_i x_i + sum_{i<j} <v_i, v_j>
    x_i x_j + MLP(field embeddings)``.  Binary targets train one logit with
    the logistic loss; three or more classes train one logit per class with
    the cross-entropy loss (the FM's interaction vector is projected to each
    class).  Training runs on skorch, so skorch callbacks and its history
    work as usual.

    Parameters
    ----------
    embedding_dim : int, default=10
        Size of the embedding vector of each feature, shared by the FM and
        the deep part.
    hidden_units : tuple of int, default=(256, 128)
        Widths of the hidden layers of the deep part (ReLU).
    dropout : float, default=0.0
        Dropout rate after each hidden layer.
    batch_norm : bool, default=False
        Whether to batch-normalise each hidden layer.
    alpha : float, default=0.0
        L2 penalty of the FM and deep parts: ``alpha * w`` is added to the
        gradient of the batch's mean loss for every trained weight, biases
        included, as torch's ``weight_decay``.  With ``optimizer='adam'``
        (the default) it reaches only the embedding rows a batch uses,
        where the embeddings' gradients are sparse (not so with a
        gradient-reading callback, see the speed guide); with 'sgd',
        'adagrad' and 'rmsprop' it decays every row at every step, used
        or not, and 'adamw' decouples it from the gradient (every step
        shrinks each weight by its learning rate times ``alpha``).  An
        optimizer class without ``weight_decay`` takes only ``alpha=0``.
        :class:`~sklearn.neural_network.MLPClassifier`
        divides its ``alpha`` by the batch's rows and spares the biases, so
        its ``alpha`` is about ``batch_size`` times this one.  Where the
        recipe solves the first-order part (``early_stopping``), it is
        regularised by its own ``C`` instead; where it learns by gradient
        steps (no early stopping, a first ``partial_fit``), ``alpha``
        applies to it and to the bias too.
    lr : float, default=2e-3
        Learning rate of the embeddings and the deep part.
    batch_size : int or 'auto', default='auto'
        Rows per training step. 'auto' uses ``clip(n_samples // 200, 64, 1024)``.
    max_epochs : int, default=100
        Upper bound on the number of passes over the training data (early
        stopping usually ends training sooner).  Unlike MLPClassifier's
        ``max_iter``, reaching it while the loss still falls raises no
        ConvergenceWarning: ``history_`` shows the losses of every epoch.
    optimizer : {'adam', 'adamw', 'sgd', 'adagrad', 'rmsprop'} or \
            torch.optim.Optimizer subclass, default='adam'
        Optimizer of the FM and deep parts. A class takes the parameter
        groups and steps on batches; ``SparseAdam`` and ``LBFGS`` cannot,
        and are refused.
    early_stopping : 'auto' or bool, default='auto'
        Whether to train with the default recipe, which never ends below a
        logistic regression on the same features.  It holds out
        ``validation_fraction`` of the training rows (stratified, seeded by
        ``random_state``), then:

        1. solves the first-order part as
           :class:`~sklearn.linear_model.LogisticRegression` on the one-hot
           (and standardised numeric) features, to convergence, with ``C``
           chosen by validation log-loss among 0.03, 0.1, 0.3, 1 and 3
           (``linear_C_``; C other than 1 only when it beats C=1 by more
           than one standard error of the per-row difference, so that a
           few noisy validation rows do not move it), and keeps it fixed
           (on more than 200,000 rows, on a random 200,000 of them);
        2. trains the FM and deep parts on top (they start at zero, so
           training starts from the logistic regression), multiplies the
           learning rate by 0.1 after every epoch whose validation loss does
           not improve and stops after ``n_iter_no_change`` such epochs, or
           at once after an epoch worse than the best by more than one
           standard error of the per-row difference, then restores the best
           epoch;
        3. keeps the FM and deep parts only if they lower the validation
           log-loss by more than one standard error of the per-row
           difference, and the hold-out has at least 50 rows
           (``interactions_kept_``); otherwise the model is the
           logistic regression alone, refitted on all rows, unless the linear model
           over the fields and their pairwise crosses (``crosses_kept_``,
           see the user guide) is mixed in.
        4. where they are kept, trains them again on all rows, the held-out
           ones included, for the epochs and learning-rate cuts chosen in
           2 (not above 200,000 rows, nor with ``callbacks`` of your own,
           which watched the first training; see the user guide).

        'auto' enables it wherever a stratified hold-out can be drawn
        (every class with a row on each side); where none can, it warns
        and trains without it.
        With False, there is no hold-out and nothing is solved: every part
        learns by gradient steps on all rows for ``max_epochs`` epochs (the
        first-order weights with 10 times the learning rate), as in
        ``partial_fit``.
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping.
    n_iter_no_change : int, default=2
        Epochs without improvement of the validation loss before stopping;
        the learning rate is divided by 10 after each of them, and the best
        epoch is restored whatever happens after it.  An epoch whose
        validation loss is worse than the best epoch's by more than one
        standard error of the per-row difference stops training at once.
    warm_start : bool, default=False
        When True, ``fit`` reuses the fitted input layout, first-order part
        and weights of the previous call and trains the FM and deep parts
        further (with a fresh optimizer), as ``MLPClassifier`` does; the
        input must have the same columns.  Without early stopping the
        first-order part trains further too, as in the first fit; with it,
        where the warm fit's recipe drops the FM and deep parts, the
        first-order part is refitted on the warm fit's rows, unless the
        previous fit mixed in the pairwise crosses (``crosses_kept_``): that
        first-order part, crosses included, is then kept as it is (the
        warm fit tries no crosses, and its keep test compared the FM and
        deep parts with it).  FM and deep
        parts that the previous fit's recipe dropped start afresh, as in
        ``partial_fit``.  The network is the fitted one: a warm fit (and a
        later ``partial_fit`` call) refuses a new ``embedding_dim``,
        ``hidden_units`` or ``batch_norm``, or dropout turned on or off, and
        trains at a new dropout rate.  With early stopping, the warm fit
        holds out rows as a first fit would and its first epoch starts the
        schedule (the model it starts from is not a candidate for the
        best).  Refitted on the previous fit's rows, those held-out rows
        were seen in training (the recipe's last trainings use every row):
        its validation losses then read low, and do not say how the model
        does on new rows; continue on new rows, or with
        ``early_stopping=False`` and a fixed ``max_epochs``.
    fields : array-like of shape (n_features,), default=None
        Field label of each column of a sparse matrix (or of a numeric array,
        which is then read as a sparse one): columns that share a label form
        one field of the deep part.  None infers the fields of sparse input
        from contiguous one-hot blocks (each column of the input of a
        ``OneHotEncoder`` becomes one field; see the user guide); dense 0/1
        one-hot blocks (``pd.get_dummies``, a densified one-hot matrix) are
        grouped by the same rule.
    categorical_features : 'auto', 'from_dtype', None, array-like of bool, \
            int or str, default='auto'
        Which columns of a dense array or DataFrame (pandas or polars) are
        categorical, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`: a boolean
        mask, column indices or column names.  Strings, categories and
        booleans always are.  'auto' also reads a numeric column as
        categorical when its values are integer codes (such as
        ``OrdinalEncoder`` produces), with at most one distinct negative code
        (its ``unknown_value`` or ``encoded_missing_value``); a warning names
        the columns where that guess may be wrong.  ``fit`` also reads such a
        column of non-negative whole numbers as a number (an extra numeric
        field) when its target follows the order of its values, as an age's
        does and an identifier's does not (:ref:`whole_number_quantities`),
        and, with early stopping, reads a column of whole numbers with a
        value per row or nearly as numeric instead when its number beats its
        categories in the linear model on the validation rows.
        With 'from_dtype' numeric columns are numeric, 0/1 columns that form
        one-hot blocks aside (grouped into fields as with 'auto'); with None
        every numeric column is numeric.  Categories unseen in ``fit``, negative
        codes and missing values map to a per-field unknown embedding.
        Numeric columns are standardised and scale one embedding each;
        NaN and infinity are errors there.  Dates and durations are errors:
        derive numbers or categories from them.  ``input_layout_`` shows what
        was decided.  A column whose cells are lists (tuples, arrays, polars
        or pyarrow lists) is one multi-valued field, as is a 0/1 block of a
        sparse matrix with several columns set per row that ``fields``
        declares one field (``MultiLabelBinarizer`` output).
    pooling : {'mean', 'sum'}, default='sum'
        How a multi-valued field pools the embeddings of a row's values into
        the field's one vector (which the FM pairs with the other fields and
        the deep part reads): their mean or their sum.  Values unseen in
        ``fit`` and missing cells use the field's unknown row; an empty list
        has a row of its own.
    device : str, default='cpu'
        Torch device to train and predict on: 'cpu', 'cuda' or 'cuda:N'.
        Changing it on a fitted model moves the model there at the next
        prediction.
    mixed_precision : bool or 'auto', default=False
        Whether the matrix products of the deep part run in bfloat16 (under
        ``torch.autocast``); the parameters, the embeddings, the FM and the
        outputs stay float32.  On a CPU with AMX tiles (Intel Xeon of the 4th
        generation and later) it trained 1.5 to 1.8 times and predicted 2.2
        times faster at the benchmark's setting; on an AMD EPYC of the Zen 5
        generation (AVX512_BF16) 2.4 and 2.9 times.  On CPUs without a native
        bfloat16 dot product it is much slower.  'auto' enables it on CPUs
        that have one (AMX tiles or AVX512_BF16 on x86, the BF16 extension
        on ARM; not on CUDA) and records the decision in
        ``mixed_precision_``; True forces it, and on CUDA needs a device with
        bfloat16 support.  On no split of the quality benchmark's tables did
        the test AUC fall by more than 0.003, but predictions move by up to 2e-4
        between processor families and by 2e-3 (MovieLens) to 6e-3 (Adult)
        against the float32 exports (ONNX, TorchScript), against 2e-7 in
        float32: hence the
        default (see the user guide's "Mixed precision").
    n_jobs : int, default=None
        CPU threads torch uses while this estimator fits and predicts (the
        global setting is restored afterwards), and values of ``C`` the
        recipe's linear solve fits side by side: None keeps torch's setting,
        -1 uses all cores.  Set it to 1 inside a search with ``n_jobs`` so
        that parallel fits do not compete for cores.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, as in
        :class:`~sklearn.linear_model.LogisticRegression`: a dict
        ``{class_label: weight}``, or 'balanced' for weights inversely
        proportional to the class frequencies.  They multiply
        ``sample_weight``.
    distributed : bool, default=False
        Whether this ``fit`` is one of several processes' fits of one model
        (data-parallel training on ``torch.distributed``, e.g. launched by
        ``torchrun``): every process of the initialised default process group
        calls ``fit`` on its own shard of the rows and all of them end with
        the same model, the one ``fit`` would make of all rows (see the user
        guide, "Scaling out").  The categories, classes and numeric scaling
        are gathered from every shard; the first-order part is solved on all
        rows; gradients are averaged over the processes at every step;
        early stopping decides on the validation rows of all processes.
        ``batch_size`` is then the rows of one step over all processes.  True
        raises an error when no process group is initialised and changes
        nothing in a group of one process.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` tuples).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling, dropout and the validation
        split.  An int gives identical predictions on CPU for identical data,
        also where fits of this package run at once in threads (joblib's
        threading backend); other code that seeds or draws from torch's
        global generator in another thread meanwhile can still move the
        initialisation, though not dropout's masks, which come from a
        generator of the fit's own.  The global torch random state is left
        untouched.
    verbose : int, default=0
        1 prints what ``fit`` decided about the input (``input_layout_``),
        then skorch's per-epoch table (coloured only on a terminal).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names seen in ``fit``; set only when X has string column names.
    n_fields_ : int
        Number of fields the deep part sees (whole-number quantities
        count twice: their categories and their number).
    fields_ : ndarray of shape (`n_features_in_`,)
        Field id of each input column (of its categories, for a column
        also read as a number).
    is_categorical_ : ndarray of shape (`n_features_in_`,) of bool or None
        Which columns were treated as categorical (None for sparse input).
    input_layout_ : InputLayout
        What ``fit`` decided about the input, field by field: the columns
        of each field, how they are read, their categories or scaling and
        their embedding rows.  Print it to see it.
    linear_C_ : float or None
        Inverse regularisation strength of the solved first-order part
        (None when it learnt by gradient steps: without early stopping, or
        with ``partial_fit``).
    crosses_kept_ : bool
        Whether the model holds a linear model over the fields and a weight
        for every pair of categories seen together in training, for every
        pair of categorical fields (LR + crosses), mixed in by the default
        recipe after training (see ``crosses_share_``).  False without early
        stopping and with ``partial_fit``.
    crosses_share_ : float
        The share of that crossed linear model in the raw outputs, ``(1 -
        crosses_share_)`` times the trained model plus ``crosses_share_``
        times the crossed one: 0.5 unless another of 0, 0.1, ..., 1 is
        clearly better on the validation rows (see :ref:`pairwise-crosses`);
        0 without crosses; at 1 the model is the crossed linear model alone
        and ``interactions_kept_`` is False.  It records the mix of the fit
        that tried the crosses: a warm fit or ``partial_fit`` after it trains
        the FM and deep parts on top of the mixed model.
    mixed_precision_ : bool
        Whether the deep part runs in bfloat16 (see ``mixed_precision``).
    interactions_kept_ : bool
        Whether the model uses its FM and deep parts (False: the validation
        rows showed no gain over the first-order part alone, which is then
        the whole model).
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch training record (losses, durations, callback entries).

    See Also
    --------
    DeepFMRegressor : The same model for regression.
    sklearn.linear_model.LogisticRegression : The linear baseline to compare with.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_deepfm import DeepFMClassifier
    >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    >>> clf = DeepFMClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.score(X, y) > 0.8
    True
    """

    _parameter_constraints = {
        **BaseDeepFM._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        embedding_dim=10,
        hidden_units=(256, 128),
        dropout=0.0,
        batch_norm=False,
        alpha=0.0,
        lr=2e-3,
        batch_size="auto",
        max_epochs=100,
        optimizer="adam",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=2,
        warm_start=False,
        fields=None,
        categorical_features="auto",
        pooling="sum",
        device="cpu",
        mixed_precision=False,
        n_jobs=None,
        distributed=False,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            embedding_dim=embedding_dim,
            hidden_units=hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            alpha=alpha,
            lr=lr,
            batch_size=batch_size,
            max_epochs=max_epochs,
            optimizer=optimizer,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            warm_start=warm_start,
            fields=fields,
            categorical_features=categorical_features,
            pooling=pooling,
            device=device,
            mixed_precision=mixed_precision,
            n_jobs=n_jobs,
            distributed=distributed,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    @fit_context
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data: a sparse one-hot/multi-hot/real-valued matrix, a
            label-encoded or numeric array, or a DataFrame.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss.

        Returns
        -------
        self : DeepFMClassifier
            The fitted estimator.
        """
        y = self._check_target(y)
        check_classification_targets(y)
        # a warm start keeps the columns it was fitted on, as MLPClassifier's
        X = self._validate_X(X, reset=not self._warm())
        check_consistent_length(X, y)
        classes, y_index = np.unique(y, return_inverse=True)
        shared = _distributed.enabled(self.distributed)
        if shared:  # a class of any process's rows is a class of the model
            classes = _distributed.union_of_labels(classes)
            y_index = np.searchsorted(classes, y)
        if self._warm():
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start=True needs the classes of the previous fit, "
                    f"{self.classes_.tolist()}; y has {classes.tolist()}."
                )
            classes = self.classes_  # of its type, as MLPClassifier's: 1.0 is 1
        self.classes_ = classes
        n_classes = classes.size
        if n_classes < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, "
                f"but y contains only one class: {classes[0]!r}."
            )
        class_weights = None
        if self.class_weight is not None:
            class_weight = self.class_weight
            if isinstance(class_weight, str):  # 'balanced'
                class_weight = _balanced(classes, y_index, sample_weight, X, shared)
            # by the model's classes, those of every process: a class missing
            # from this process's rows had made scikit-learn refuse the dict
            # on this process alone
            per_class = compute_class_weight(class_weight, classes=classes, y=y)
            class_weights = np.asarray(per_class, dtype=np.float64)[y_index]
        sample_weight = self._sample_weight(
            sample_weight, X, class_weights=class_weights
        )
        target, criterion, bias = _targets(y_index, n_classes, sample_weight, shared)
        return self._fit(
            X,
            target,
            sample_weight,
            task="binary" if n_classes == 2 else "multiclass",
            n_outputs=1 if n_classes == 2 else n_classes,
            criterion=criterion,
            classes=np.arange(n_classes),
            bias=bias,
        )

    @fit_context
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train on one more batch of rows: one pass, keeping the model.

        As :meth:`sklearn.linear_model.SGDClassifier.partial_fit`: the first call needs
        ``classes`` and fixes the input layout (fields, which columns are categorical,
        numeric scaling), the batch size that ``batch_size='auto'`` chose and the deep
        part's precision; a ``batch_size`` you set, ``alpha`` and ``verbose`` are read
        at every call. Later calls must bring the same columns. Categories first seen in
        a later call get embedding rows of their own from then on (the tables grow with
        the vocabulary, never with the number of rows).  Unlike
        :meth:`fit`, there is no hold-out, no early stopping and no solved
        first-order part: from a first call, every part learns by gradient
        steps (the first-order weights with 10 times the learning rate).
        After ``fit``, ``partial_fit`` trains the fitted model further: a
        first-order part that the recipe solved stays as solved, and the FM
        and deep parts learn on top.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class label that will ever appear; required on the first
            call, and must be the same on later calls.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : DeepFMClassifier
        """
        first = not hasattr(self, "net_")
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every "
                "class label that will ever appear in y."
            )
        if classes is not None:
            check_classification_targets(classes)  # as SGDClassifier's check
            classes = unique_labels(classes)  # (its dtype, too: '<U1', not object)
            if first and _distributed.enabled(self.distributed):
                _distributed.same_classes(classes)
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} differs from the classes of the "
                    f"first call, {self.classes_.tolist()}."
                )
        y = self._check_target(y)
        check_classification_targets(y)
        X = self._validate_X(X, reset=first)
        check_consistent_length(X, y)
        known = classes if first else self.classes_
        if known.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes; classes holds "
                f"{known.tolist()}."
            )
        unexpected = np.setdiff1d(np.unique(y), known)
        if unexpected.size:
            raise ValueError(
                f"y holds labels {unexpected.tolist()} that are not in classes "
                f"{known.tolist()}."
            )
        y_index = np.searchsorted(known, y)
        class_weights = None
        if self.class_weight is not None:
            if isinstance(self.class_weight, str):
                raise ValueError(
                    "class_weight='balanced' needs every row at once; set "
                    "class_weight to a dict of weights for partial_fit, or use fit."
                )
            # over every class, as SGDClassifier: a call need not hold them all
            weights = compute_class_weight(self.class_weight, classes=known, y=y)
            class_weights = weights[y_index]
        sample_weight = self._sample_weight(sample_weight, X, first, class_weights)
        n_classes = known.size
        target, criterion, bias = _targets(
            y_index,
            n_classes,
            sample_weight,
            _distributed.enabled(self.distributed),
            pseudo_rows=1,
        )
        if first:
            self.classes_ = known
        return self._partial_fit(
            X,
            target,
            sample_weight,
            n_outputs=1 if n_classes == 2 else n_classes,
            criterion=criterion,
            classes=np.arange(n_classes),
            bias=bias,
        )

    def decision_function(self, X):
        """Logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Log-odds of ``classes_[1]`` for binary problems, else one logit
            per class.
        """
        raw = self._raw_predict(X)
        return raw[:, 0] if self.classes_.size == 2 else raw

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_`` order; rows sum to 1.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits: finite
        where a probability rounds to 0 (the log of the rounded probability
        was -inf from a logit of about 37 on)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return -np.logaddexp(0.0, np.column_stack([scores, -scores]))
        return log_softmax(scores, axis=1)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def explain(self, X, *, n_permutations="auto", random_state=None):
        """Why each prediction: the logits split by field and pair of fields.

        DeepFM's logit is the bias, a first-order term per field, an FM term
        per pair of fields and a deep part.  The first three are split
        exactly; the deep part is split by the fields' Shapley values
        against the empty row (every field's embedding zero).  The result
        follows shap's format and bookkeeping (see the user guide,
        "Explaining predictions").

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Rows to explain, as for :meth:`predict`.
        n_permutations : 'auto', 'exact' or int, default='auto'
            How the deep part is attributed.  'exact' evaluates it on all
            ``2**n_fields_`` coalitions of fields.  An int samples that many
            orders of the fields (rounded up to an even number: each order
            is also used reversed) and averages the fields' marginal
            contributions along them, the same orders for every row; the
            exact values are computed instead when they take no more
            evaluations (``2**n_fields_ - 2 <= m * (n_fields_ - 1)``, ``m``
            being ``n_permutations`` rounded up to an even number).  'auto'
            spends about 64 evaluations per row: the exact values up to 6
            fields, else as many permutations as fit, at
            least 2 (8 for 8 fields, 4 for 14, 2 from 18 fields on).
        random_state : int, RandomState instance or None, default=None
            Seeds the sampled orders.

        Returns
        -------
        explanation : Explanation
            ``values`` of shape ``(n_samples, n_fields_)`` in log-odds of
            ``classes_[1]`` (binary), or ``(n_samples, n_fields_,
            n_classes)`` in logits (multiclass), with ``base_values +
            values.sum(axis=1) == decision_function(X)`` up to float32
            rounding, and ``interaction_values`` of shape ``(n_samples,
            n_fields_, n_fields_[, n_classes])``.
        """
        return self._explain(X, n_permutations, random_state)


def _targets(y_index, n_classes, sample_weight, shared, pseudo_rows=0):
    """Encoded targets, the loss and the output bias at the class prior, of
    every process's rows when ``shared`` (a process's own rows may hold
    another mix of classes), with ``pseudo_rows`` rows of mean weight added
    to each class (the mean over the rows of positive weight): a first
    ``partial_fit`` batch may lack a class that the
    stream holds, and a bias at the log of 1e-6 (-13.8) was never unlearnt
    (a stream of 10,000 rows at 30% clicks ended predicting 0.0001)."""
    prior = np.bincount(y_index, weights=sample_weight, minlength=n_classes)
    n_rows = np.count_nonzero(sample_weight)  # (rows of weight 0 count nowhere)
    if shared:
        prior, n_rows = _distributed.all_sum(prior, n_rows)
    prior = prior + pseudo_rows * prior.sum() / max(n_rows, 1)
    # (a later partial_fit call may weigh nothing: its bias is not used)
    prior = np.clip(prior / max(prior.sum(), np.finfo(float).tiny), 1e-6, 1)
    if n_classes == 2:
        target, criterion = y_index.astype(np.float32), torch.nn.BCEWithLogitsLoss
        bias = np.log(prior[1:] / prior[:1])
    else:
        target, criterion = y_index.astype(np.int64), torch.nn.CrossEntropyLoss
        bias = np.log(prior)
    return target, criterion, bias.astype(np.float32)
