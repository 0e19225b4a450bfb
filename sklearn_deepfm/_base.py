"""What DeepFMClassifier and DeepFMRegressor share: parameters, input
validation, the default training recipe and raw prediction."""

import functools
import inspect
import math
import numbers

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import Callback

from . import _distributed, _seeding
from ._batching import EncodedDataset, HoldoutSplit
from ._caller import warn
from ._cpu import native_bfloat16
from ._crosses import (
    MAX_CROSSED_ENTRIES,
    carry_crosses,
    cross_matrix,
    crossable_fields,
    field_pairs,
    seen_keys,
)
from ._encoding import FeatureEncoder, check_container, is_dataframe, is_polars
from ._explain import Explanation, field_attributions
from ._linear import (
    DEFAULT_C,
    Refit,
    choose,
    design_matrix,
    fit_linear,
    output_losses,
    with_number,
)
from ._linear_lbfgs import choose_shared, fit_linear_shared
from ._model import DeepFM
from ._net import DeepFMNet, adapt_callbacks, predict_rows
from ._optim import OPTIMIZERS, DenseSparseAdam
from ._persistence import plain_state, restore
from ._schedule import SCHEDULE, ReplaySchedule, TrainingSchedule, replayed
from ._threads import n_threads, torch_threads

# partial_fit and fit(early_stopping=False) learn the first-order weights by
# gradient steps (the default recipe solves them instead); they take larger
# steps than the embeddings and the MLP, as the wide part of Wide & Deep does
# with FTRL.  One epoch on the synthetic sets of benchmarks/run.py (3 seeds)
# and three on six real tables (2 seeds): 10 above 20 on 6 of 8 (by up to
# 0.016 AUC; below it by 0.001 and 0.0002 on the other two), 10 and 5 alike.
LINEAR_LR_FACTOR = 10.0

# The first-order part's C is chosen, and the part solved for the deep part to
# learn on top of, on at most this many training (and validation) rows: a
# converged LogisticRegression on millions of one-hot rows takes minutes.  A
# model left linear by the recipe is refitted on every row.
LINEAR_MAX_ROWS = 200_000

# The mix with the linear model over the fields and their pairwise crosses
# (see CROSSES_SHARES) is kept unless the trained model alone lowers the mean
# validation loss by more than this many standard errors of the per-row
# difference: the share rule's own prior (an average of two models), not a
# second test the mix must pass on the same 10% of the rows.  With the lower
# loss winning (0, the earlier value) the mix was dropped on HR's split 1 and
# Avazu's split 0 at -0.42 and -0.44 standard errors, where it raised the test
# AUC by 0.0057 and 0.0039 (quality.py, five splits of the seven tables where
# the crosses are tried; no other split changed; recipe_research.md, sixth
# session).  For the crossed model alone, before the mix, the validation gain
# was always negative on MovieLens, Criteo, Adult and Telco (test AUC -0.001
# to -0.023), which the share rule now leaves to the even mix or to 0.
CROSSES_MARGIN = -1.0

# The shares of the crossed linear model's raw outputs tried in a mix with the
# model trained so far ((1 - share) * model + share * crossed; 0, no crosses;
# 1, the crossed model alone).  The even mix is taken unless another share
# lowers the validation loss by more than one standard error of the per-row
# difference (as C=1 is, sklearn_deepfm._linear.choose).  On the first three
# quality.py splits of seven tables (benchmarks/results/crosses_mix.md) this
# mix raised the test AUC over the better of the two models by 0.0079 to
# 0.0085 on Coupon, 0.003 on MovieLens (where the crossed model alone is
# 0.007 below the trained one) and up to 0.0048 elsewhere, and lost at most
# 0.0024 to it (Avazu, a split left to the trained model); against the share
# of lowest validation loss it gained 0.0010 (HR) and 0.0008 (Avazu) and moved
# the others by under 0.0004.
CROSSES_SHARES = tuple(np.round(np.linspace(0.0, 1.0, 11), 1))

# Against the linear model over the fields alone (the interactions dropped),
# a fair comparison of nested linear models, the crosses must win by one
# standard error, as a C away from 1 must (sklearn_deepfm._linear.choose):
# with a zero margin they replaced the linear model on about half the fits
# of tables without any interaction (tests/test_recipe.py's).  It gives up
# Avazu's splits 1 and 3 (+0.5 standard errors), where the crosses raised
# the test AUC by 0.0015 and 0.0039.
LINEAR_MARGIN = 1.0

# The FM and deep parts the recipe keeps are trained a second time on every
# row, the validation rows included, for the epochs and learning-rate cuts
# the first training chose on them (the linear part and the crossed model
# are refitted on every row too).  Measured (benchmarks/results/
# recipe_research.md, twelfth session; quality.py's five splits x five
# seeds, test AUC against one training, paired): Coupon +0.0017 +- 0.0005,
# the synthetic interaction table +0.0014 +- 0.0003, HR +0.0002, Avazu
# +0.0002, Telco +0.0001, Diabetes +0.0004 (20 fits); one seed: MovieLens
# +0.0038 (5 of 5 splits), Frappe +0.0005, Adult -0.0002; log loss lower on
# all but Adult; the regressor's MSE on MovieLens ratings 0.860 -> 0.852.  It
# costs a second training (Coupon's fit 2.3 -> 3.2 s in quality_zen5.md).
# Above this many rows it was not measured, and the held-out tenth is worth
# less against a second training that long.
RETRAIN_MAX_ROWS = 200_000

# 'auto' trains by the recipe at every size where a hold-out can be drawn
# (it did from 1,000 rows only).  benchmarks/results/small_tables.md, eight
# shared tables, 3 splits, 20 to 999 training rows: without the recipe the
# defaults ended 0.005 to 0.13 AUC and 0.8 to 8.7 log loss below LR (C=1)
# (100 epochs memorised the rows); with it, within -0.024 to +0.021 AUC of
# LR (Adult lowest: its whole numbers read as categories) and -0.09 to
# +0.05 log loss.
#
# The FM and deep parts are kept only when the hold-out has at least this
# many rows: on the same tables, where the recipe kept them on fewer (2 to
# 20 validation rows, 17 fits of 20 to 200 training rows), they lost 0.009
# to 0.029 AUC to LR and up to 3.5 log loss (the standard error of a few
# rows says little); on 50 or more (500 and 999 rows) they were kept on 6
# fits of 48 and gained 0.006 AUC.
KEEP_MIN_VALIDATION_ROWS = 50

# The crosses are not tried on a hold-out of fewer rows: kept on 3 to 5
# validation rows, the crossed model replaced the whole model on 4 fits of
# 48 and lost every time (Telco, 20 training rows: log loss 1.06 against
# 0.69 without); kept on 10 to 20, it gained on 3 of 3.  Not tried below
# 50 rows, the fits of 100 and 200 training rows lost 0.002 AUC and 0.01
# log loss on average.
CROSSES_MIN_VALIDATION_ROWS = 10

DOCS_URL = "https://sklearn-deepfm.readthedocs.io/en/stable"


def _sparse_frame(frame):
    """Whether every column of a pandas DataFrame is a sparse column of
    numbers (or booleans) whose fill value is 0 and whose stored values are
    0 or 1: one-hot and multi-hot columns, which the sparse matrix's rule
    reads as the columns' rule does.  Other values are read column by column
    (as the matrix's values, integer codes became magnitudes: code 3 three
    times code 1, code 0 absent, training AUC 0.63 against 0.86 dense)."""
    from pandas import SparseDtype

    # by position: a frame of duplicate names gives frames for its columns
    for dtype in frame.dtypes:
        if not (
            isinstance(dtype, SparseDtype)
            and np.dtype(dtype.subtype).kind in "biuf"
            and dtype.fill_value == 0
        ):
            return False
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j].array.sp_values
        if not ((values == 0) | (values == 1)).all():
            return False
    return True


def _check_device(device):
    """A torch.device for ``device``, or a ValueError saying why it cannot be used."""
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda' or "
            "'cuda:N'."
        ) from exc
    if torch_device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False). Use device='cpu', or "
                "install a CUDA build of PyTorch on a machine with an NVIDIA GPU."
            )
        if torch_device.index is not None and (
            torch_device.index >= torch.cuda.device_count()
        ):
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    elif torch_device.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return torch_device


def _mlp_dtype(mixed_precision, device):
    """The autocast dtype of the deep part: bfloat16 or None (float32)."""
    if mixed_precision == "auto":
        mixed_precision = device.type == "cpu" and native_bfloat16()
    if not mixed_precision:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"mixed_precision=True needs bfloat16 support, which the CUDA device "
            f"{device} lacks; use mixed_precision=False."
        )
    return torch.bfloat16


def _sparse_gradients(optimizer, device, shared, callbacks=()):
    """Whether the embedding tables give sparse gradients: with the lazy Adam,
    except in distributed CUDA training (NCCL reduces dense tensors only)
    and where a callback reads the gradients (skorch's GradientNormClipping
    met torch's "no norm of a sparse tensor" in every fit)."""
    sparse = (
        optimizer is DenseSparseAdam
        and not (shared and device.type == "cuda")
        and not any(_reads_gradients(callback) for callback in callbacks)
    )
    if shared:
        # alike on every process, whose callbacks and device may differ: the
        # gradients are averaged in one layout (a callback on one process had
        # made its gradients dense and the other's sparse: gloo aborted)
        sparse = not _distributed.all_sum(int(not sparse))[0]
    return sparse


def _reads_gradients(callback):
    """Whether a skorch callback (an instance, a class, or a (name, callback)
    tuple) acts on the gradients: it overrides ``on_grad_computed``."""
    instance = callback[1] if isinstance(callback, tuple) else callback
    kind = instance if isinstance(instance, type) else type(instance)
    return kind.on_grad_computed is not Callback.on_grad_computed


# batch_size='auto': about AUTO_BATCH_STEPS steps per epoch, within
# [AUTO_BATCH_MIN, AUTO_BATCH_MAX] rows.  200 steps (was 50), measured on the
# five quality splits (benchmarks/results/recipe_research.md): test AUC
# frappe +0.0033, movielens +0.0035, coupon +0.0012, adult +0.0004, avazu
# +0.0002, criteo 0, hr -0.0003, telco -0.0009.  With 50 steps an epoch the
# embeddings of a small table moved little before the schedule's first
# learning-rate cut.
AUTO_BATCH_STEPS = 200
AUTO_BATCH_MIN, AUTO_BATCH_MAX = 64, 1024


def _auto_batch_size(n_samples):
    return int(np.clip(n_samples // AUTO_BATCH_STEPS, AUTO_BATCH_MIN, AUTO_BATCH_MAX))


def _at_most(dataset, n_rows, seed, task, shared=False):
    """``dataset``, or a seeded random subset of ``n_rows`` of its rows; a
    classifier's subset gains a row of each class it would lack, for the
    linear solve needs every class (a class of 5 rows in 1,000,000 was
    missing from 2 of 3 subsets of 200,000).  When ``shared``, ``n_rows``
    counts every process's rows and each keeps its share (each kept
    ``n_rows`` of its own: P times the rows of one fit, and the crosses'
    budget then counted P times 200,000)."""
    n_local = len(dataset)
    n_total = int(_distributed.all_sum(n_local)[0]) if shared else n_local
    if n_total <= n_rows:
        return dataset
    if shared:
        n_rows = round(n_rows * n_local / n_total)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n_local, n_rows, replace=False)
    if task != "regression":
        y = dataset.y
        for label in np.setdiff1d(np.unique(y), y[rows]):
            rows = np.append(rows, rng.choice(np.flatnonzero(y == label)))
    return dataset.subset(np.sort(rows))


def _doc_link_params(estimator):
    return {"name": type(estimator).__name__}


class BaseDeepFM(BaseEstimator):
    """Shared implementation; use DeepFMClassifier or DeepFMRegressor."""

    _doc_link_module = "sklearn_deepfm"
    _doc_link_template = DOCS_URL + "/generated/sklearn_deepfm.{name}.html"

    def _doc_link_url_param_generator(self):
        return _doc_link_params(self)

    _parameter_constraints = {
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_units": ["array-like"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "fields": ["array-like", None],
        "categorical_features": [
            "array-like",
            StrOptions({"auto", "from_dtype"}),
            None,
        ],
        "pooling": [StrOptions({"mean", "sum"})],
        "device": [str, torch.device],
        "mixed_precision": ["boolean", StrOptions({"auto"})],
        # joblib's: 0 has no meaning (it was read as 1)
        "n_jobs": [
            Interval(numbers.Integral, None, -1, closed="right"),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "distributed": ["boolean"],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
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
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.embedding_dim = embedding_dim
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.alpha = alpha
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.fields = fields
        self.categorical_features = categorical_features
        self.pooling = pooling
        self.device = device
        self.mixed_precision = mixed_precision
        self.n_jobs = n_jobs
        self.distributed = distributed
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # NaN in a column of categories is a missing category (the unknown
        # embedding), as HistGradientBoosting's tags say of its own support;
        # tools that read the tag (SequentialFeatureSelector) refused such
        # data before fitting.  NaN in a numeric column is still an error.
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        state.pop(_SNAPSHOT, None)  # pickled from a callback during a fit
        return plain_state(state)

    def __setstate__(self, state):
        super().__setstate__(state)
        restore(self)
        net = getattr(self, "net_", None)
        if (
            net is not None
            and _device_type(self.device) == "cuda"
            and not torch.cuda.is_available()
        ):
            # skorch has mapped the weights to the CPU (with a DeviceWarning);
            # the estimator follows, so that the loaded model predicts
            self.device = str(net.device)

    def set_params(self, **params):
        name = type(self).__name__
        valid = self.get_params(deep=False)
        for key in params:
            if key not in valid:
                hint = ""
                if key.split("__")[0] in ("optimizer", "module", "criterion"):
                    hint = (
                        " Set the L2 penalty with alpha and the learning rate with "
                        "lr; pass a torch.optim.Optimizer subclass as optimizer "
                        "for anything else."
                    )
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {name}. Valid "
                    f"parameters are: {sorted(valid)!r}.{hint}"
                )
        if "callbacks" in params and hasattr(self, "net_"):
            # partial_fit trains with them from its next call (it went on
            # with the callbacks it had, one that raised included); the same
            # callbacks, as set_params(**get_params()) gives, go on as they
            # were (a callback appended to the list in place is new)
            if not _same_objects(
                params["callbacks"], self.__dict__.get("_callbacks_in_use")
            ):
                self._callbacks_changed = True
        return super().set_params(**params)

    # input ----------------------------------------------------------------
    def _validate_X(self, X, reset):
        """Check X's shape and kind; set or compare feature names and width."""
        name = type(self).__name__
        check_container(X, name)
        if is_dataframe(X) or is_polars(X):
            for axis, what in ((0, "sample(s)"), (1, "feature(s)")):
                if X.shape[axis] < 1:
                    raise ValueError(
                        f"Found array with 0 {what} (shape={X.shape}) while a "
                        f"minimum of 1 is required by {name}."
                    )
            checked = X
            if self._reads_as_sparse_matrix(X, reset):
                # as scikit-learn's check_array: a frame of pandas' sparse
                # columns is a sparse matrix, read as one (its columns read
                # one by one were made dense: 162 against 5 MB to fit 20,000
                # rows of 500 one-hot columns), its names kept
                validate_data(self, X, skip_check_array=True, reset=reset)
                return X.sparse.to_coo().tocsr()
        else:
            kind = getattr(getattr(X, "dtype", None), "kind", None)
            if kind is None and not sp.issparse(X):
                X = _rows_as_array(X)
                kind = X.dtype.kind
            checked = check_array(
                X,
                accept_sparse=True,
                accept_large_sparse=True,
                dtype=None if kind in ("O", "U", "S") else "numeric",
                ensure_all_finite=False,
                estimator=self,
                input_name="X",
            )
        validate_data(self, checked, skip_check_array=True, reset=reset)
        return checked

    def _reads_as_sparse_matrix(self, X, reset):
        """Whether a DataFrame is read as the sparse matrix it holds: every
        column a pandas sparse one of 0/1 values with 0 for fill value, and the
        model to fit reads columns by the 'auto' or 'from_dtype' rule (which
        a sparse matrix follows: columns named as categorical are read one by
        one) or the fitted model was fitted on a sparse matrix (a model of
        dense columns reads the frame's columns as before)."""
        if not is_dataframe(X) or not _sparse_frame(X):
            return False
        if reset:
            return isinstance(self.categorical_features, str)
        return self.input_layout_.sparse

    def _check_target(self, y, **params):
        """``y`` checked as ``validate_data`` checks it, without its test of X's
        feature names (which, given no X, would forget a warm start's)."""
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        return _check_y(y, estimator=self, **params)

    def _encode(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._encoder.transform(X, getattr(self, "feature_names_in_", None))

    # training -------------------------------------------------------------
    def _fit(self, X, y, sample_weight, task, n_outputs, criterion, bias, classes=None):
        """Encode X, build the skorch net and train it by the default recipe.

        ``y`` is already encoded (float32 targets or int64 class indices).
        """
        with torch_threads(self.n_jobs):
            try:
                return self._train(
                    X, y, sample_weight, task, n_outputs, criterion, bias, classes
                )
            finally:  # a failed fit keeps no per-row mask either
                if hasattr(self, "_encoder"):
                    self._encoder.forget_rows()

    def _settings(self):
        """The checked device, hidden layer widths and optimizer class."""
        device = _check_device(self.device)
        self._check_batches()
        return device, self._hidden_units(), self._optimizer_class()

    def _check_batches(self):
        """Refuse batches of one row with batch normalisation, which cannot
        train on one row (torch's error came mid-training)."""
        if self.batch_norm and self.batch_size == 1:
            raise ValueError(
                "batch_norm=True needs batches of 2 rows or more; got "
                "batch_size=1. Use a larger batch_size, or batch_norm=False."
            )

    def _hidden_units(self):
        """The checked hidden layer widths, as a tuple of ints."""
        widths = list(self.hidden_units)
        # (10.7,) was cut to 10 silently; nan, inf, [16] and 'a' met int()
        if not all(_is_width(width) for width in widths):
            raise ValueError(
                "hidden_units must be positive whole layer widths, got "
                f"{self.hidden_units!r}."
            )
        return tuple(int(width) for width in widths)

    def _fit_encoder(self, X, feature_names, shared, sample_weight, warn=True):
        """Learn the input layout of X (of every process's X when shared),
        numeric columns scaled on the rows of positive ``sample_weight``."""
        self._encoder = FeatureEncoder(
            self.fields, self.categorical_features, self.pooling
        )
        weighted = None if sample_weight.min() > 0 else sample_weight > 0
        self._encoder.fit(X, feature_names, weighted_rows=weighted, shared=shared)
        if shared:
            _distributed.share_encoder(self._encoder, X, feature_names)
        if warn:
            self._encoder.warn_guesses(type(self).__name__)
        self._set_layout()

    def _add_numbers(self, X, y, sample_weight, classes, seed, shared):
        """Also read as numbers the whole-number columns that are quantities
        (:meth:`FeatureEncoder.add_numbers`)."""
        added = self._encoder.add_numbers(
            X,
            getattr(self, "feature_names_in_", None),
            y,
            sample_weight,
            None if classes is None else len(classes),
            seed,
            _distributed.all_sum if shared else None,
            _distributed.row_offset(int(np.count_nonzero(sample_weight)))
            if shared
            else 0,
        )
        if added:
            self._set_layout()

    def _dataset(self, X, y, sample_weight, feature_names, holdout=False):
        """X encoded, with its targets and its sample weights divided by the
        mean weight of ``fit``'s rows or of the first ``partial_fit`` call's
        (``_weight_scale``): the loss keeps its scale, and the weights of
        later calls keep theirs relative to the first (divided by each
        call's own mean, a call of one row or one class weighed as any
        other, and class_weight did nothing there).  Rows of weight 0 are
        left out (but where ``holdout``, see below)."""
        rows = self._encoder.transform(X, feature_names)
        weight = (sample_weight / self._weight_scale).astype(np.float32)
        dataset = EncodedDataset(rows, y, weight)
        kept = weight > 0
        if not kept.all() and not _distributed.enabled(self.distributed):
            # rows of weight 0 count nowhere: in the batches they divided
            # every loss (half of the rows at 0 halved the steps and read a
            # validation log loss of 0.249 for 0.462) and took steps.  They
            # keep their places on a process of a distributed fit, which
            # needs rows on each side of its hold-out (a process whose rows
            # all weigh 0 fits with the others)
            if holdout and is_classifier(self):
                # but two rows of a class that no row of weight holds stay,
                # one for each side of the stratified hold-out (without
                # them, class_weight={2: 0} turned the recipe off)
                labels = np.asarray(y).astype(np.int64)
                for label in np.unique(labels[~kept]):
                    rows = np.flatnonzero(labels == label)
                    if not kept[rows].any():
                        kept[rows[:2]] = True
            dataset = dataset.subset(np.flatnonzero(kept))
        dataset.n_weightless = weight.size - len(dataset)
        return dataset

    def _optimizer_class(self):
        optimizer = self.optimizer
        if isinstance(optimizer, str):
            return OPTIMIZERS[optimizer]
        if not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a subclass of "
                f"torch.optim.Optimizer, got {optimizer!r}."
            )
        # refused before training, which they could not do (SparseAdam met
        # torch's "does not support dense gradients" mid-fit; LBFGS refused
        # the parameter groups, or under the recipe learnt nothing)
        unfit = {
            torch.optim.SparseAdam: "takes sparse gradients only, and the "
            "first-order and deep parts have dense ones; optimizer='adam' "
            "updates the embedding rows a batch uses lazily, as it does",
            torch.optim.LBFGS: "steps with a closure over one parameter group, "
            "and the estimators step on batches with several groups; use "
            "optimizer='adam' or 'sgd'",
        }
        for kind, why in unfit.items():
            if issubclass(optimizer, kind):
                raise ValueError(f"{optimizer.__name__} is not supported: it {why}.")
        self._check_weight_decay(optimizer)
        return optimizer

    def _check_weight_decay(self, optimizer):
        """Refuse an ``alpha`` that ``optimizer`` has no ``weight_decay`` for
        (Rprop, SparseAdam: torch's TypeError came at the first step)."""
        if self.alpha > 0 and not _takes_weight_decay(optimizer):
            raise ValueError(
                f"alpha={self.alpha} is an L2 penalty applied as the optimizer's "
                f"weight_decay, which {optimizer.__name__} does not take; use "
                "alpha=0 or an optimizer that takes it (adam, adamw, sgd)."
            )

    def _user_callbacks(self):
        callbacks = list(self.callbacks or [])
        for callback in callbacks:
            instance = callback
            if isinstance(callback, tuple):
                # a pair of a name and a callback, as skorch takes them
                named = len(callback) == 2 and isinstance(callback[0], str)
                instance = callback[1] if named else None
            if not isinstance(instance, Callback) and not (
                isinstance(instance, type) and issubclass(instance, Callback)
            ):
                raise ValueError(
                    f"callbacks must be skorch callbacks or (name, callback) tuples, "
                    f"got {callback!r}."
                )
        return adapt_callbacks(callbacks)

    def _callbacks_taken(self):
        """The net now trains with ``callbacks`` as they are (see
        :meth:`set_params`)."""
        self.__dict__.pop("_callbacks_changed", None)
        self._callbacks_in_use = list(self.callbacks or ())

    def _warm(self):
        return self.warm_start and hasattr(self, "net_")

    def _check_kept_network(self, hidden_units, streaming=False):
        """Refuse, before any change, a warm fit or later partial_fit call
        whose settings ask for another network than the fitted one, which
        they train (a new embedding_dim, hidden_units, batch_norm, or dropout
        turned on or off had been ignored without a word); a new dropout
        rate applies (:meth:`DeepFMNet.set_dropout`)."""
        net = self.net_
        built = {
            "embedding_dim": net.module__embedding_dim,
            "hidden_units": tuple(net.module__hidden_units),
            "batch_norm": net.module__batch_norm,
            "dropout": net.module__dropout,
        }
        wanted = {
            "embedding_dim": self.embedding_dim,
            "hidden_units": tuple(hidden_units),
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
        }
        if (built["dropout"] > 0) == (wanted["dropout"] > 0):
            del built["dropout"], wanted["dropout"]
        changed = [key for key in built if built[key] != wanted[key]]
        if changed:
            raise ValueError(
                f"{type(self).__name__} has a fitted network of "
                + ", ".join(f"{key}={built[key]!r}" for key in changed)
                + ", and warm_start=True and partial_fit go on training it: "
                + ", ".join(f"{key}={wanted[key]!r}" for key in changed)
                + " would be another network. "
                + (
                    "Set them back to go on, or start a new stream on a clone "
                    "(sklearn.base.clone) of the estimator."
                    if streaming
                    else "Set warm_start=False (or clone the estimator) to fit "
                    "it afresh."
                )
            )

    def _train(self, X, y, sample_weight, task, n_outputs, criterion, bias, classes):
        device, hidden_units, optimizer = self._settings()
        callbacks = self._user_callbacks()
        feature_names = getattr(self, "feature_names_in_", None)
        warm = self._warm()
        shared = _distributed.enabled(self.distributed)
        rng = check_random_state(self.random_state)
        torch_seed, shuffle_seed, split_seed = rng.randint(
            np.iinfo(np.int32).max, size=3
        )
        self._weight_scale = self._mean_weight(sample_weight)
        if not warm:
            self._fit_encoder(X, feature_names, shared, sample_weight, warn=False)
            # the weights as training takes them, of mean 1: the quantity
            # test's prior counts rows (weights of 1000 for every row read
            # a column otherwise than none)
            self._add_numbers(
                X, y, sample_weight / self._weight_scale, classes, split_seed, shared
            )
        holdout = self.early_stopping is not False  # (a stratified one)
        dataset = self._dataset(X, y, sample_weight, feature_names, holdout)
        n_samples = int(np.count_nonzero(dataset.sample_weight))
        if shared:  # every process decides as one fit on all rows would
            n_samples = int(_distributed.all_sum(n_samples)[0])

        self._n_partial_fit_calls = 0
        # callbacks set since the last fit start with this one's net: the
        # next partial_fit goes on with them (it had initialised them again)
        self._callbacks_taken()
        early_stopping = self.early_stopping
        holdout = None
        if early_stopping == "auto":
            early_stopping = True
            problem = self._holdout_problem(dataset, classes)
            if shared:  # every process decides alike
                if _distributed.all_sum(int(problem is not None))[0]:
                    problem = problem or "a process's rows cannot be split"
            if problem is None:
                try:
                    holdout = self._holdout(dataset, classes, split_seed)
                except _WeightlessSide as error:
                    # (on small data with weights of 0, the few held-out
                    # rows were often all of them: fit raised)
                    problem = error.problem
            if problem is not None:
                # what LogisticRegression and HGB fit, 'auto' fits too
                warn(
                    f"{type(self).__name__}: early_stopping='auto' is off for "
                    f"this fit, and the model trains without its recipe: "
                    f"{problem}.",
                )
                early_stopping = False
        train, valid = dataset, None
        first_order = None  # the linear part, when solved on these rows already
        if early_stopping:
            train, valid = holdout or self._holdout(dataset, classes, split_seed)
            if not warm:
                read, first_order = self._read_many_valued(
                    task, X, feature_names, train, valid, split_seed
                )
                if read:
                    dataset = self._dataset(X, y, sample_weight, feature_names, True)
                    train, valid = self._holdout(dataset, classes, split_seed)
            # before the user's callbacks, which then read its best_epoch and
            # lr_cut (a logger never logged them; a Checkpoint monitoring
            # best_epoch met a KeyError); its stop waits for them to run
            callbacks.insert(
                0, (SCHEDULE, TrainingSchedule(patience=self.n_iter_no_change))
            )
        if not warm:
            self._encoder.warn_guesses(type(self).__name__)

        batch_size = self.batch_size
        if batch_size == "auto":
            batch_size = _auto_batch_size(n_samples)
        self._built_batch_size = batch_size  # what a later 'auto' call keeps
        params = self._net_params(
            device,
            hidden_units,
            optimizer,
            n_outputs,
            criterion,
            classes,
            shared,
            callbacks,
        )
        if valid is None:
            # no recipe: every part learns by gradient steps, as in partial_fit
            params["optimizer__param_groups"] = self._linear_group()
        params.update(
            batch_size=batch_size,
            iterator_valid__batch_size=predict_rows(device, batch_size),
            max_epochs=self.max_epochs,
            shuffle_seed=int(shuffle_seed),
        )
        self._announce_layout()
        if warm:
            self._check_kept_network(hidden_units)
            self._training_begins()
            self.net_.set_dropout(float(self.dropout))
            self.net_.move_to(device)
            self.net_.enable_interactions(int(torch_seed))
            schedules = self.net_.lr_schedule_keys()  # (set_params renews it)
            if "optimizer__weight_decay" not in params:
                # (the previous fit's, which Rprop refused with a TypeError)
                vars(self.net_).pop("optimizer__weight_decay", None)
            settings = {k: v for k, v in params.items() if not k.startswith("module")}
            # quietly: skorch announced re-initialising what every warm fit
            # sets ("Re-initializing criterion because ..."), even unchanged
            self.net_.set_params(**settings | {"verbose": 0})
            self.net_.verbose = settings["verbose"]
            # the precision mixed_precision_ records, in the module and
            # in the net's parameters a pickle rebuilds it from
            # (set_params of the module's keys would reinitialise it)
            dtype = params["module__mlp_dtype"]
            self.net_.module_.mlp_dtype = self.net_.module__mlp_dtype = dtype
            # the gradients this fit's optimizer takes (a switch from adam to
            # adamw met sparse gradients: torch's error, mid-training)
            self.net_.set_sparse_gradients(params["module__sparse"])
            # a fresh optimizer with this fit's alpha and lr: skorch's
            # set_params only patched the live optimizer's groups, which
            # initialize_optimizer then rebuilt from the old values; the
            # first-order group at this fit's lr, under the recipe too, where
            # a first-order part that partial_fit trained learns on (it kept
            # 10 times the old lr)
            params.setdefault("optimizer__param_groups", self._linear_group())
            for key, value in params.items():
                if key.startswith("optimizer__"):
                    setattr(self.net_, key, value)
            self.net_.initialize_optimizer()
            self.net_.resume_lr_schedules(schedules)
            self.net_.initialize_callbacks()
            # training's draws (dropout) start from the seed
            self.net_.random_stream_ = _seeding.stream_from(torch_seed, device)
        else:
            # the module drawn from torch_seed, and dropout going on from it
            self.net_ = DeepFMNet(**params, init_seed=int(torch_seed))
            self.net_.initialize()
            self.linear_C_ = None
            self.crosses_kept_ = False
            self.crosses_share_ = 0.0
            if valid is None:
                self.net_.set_bias(bias)
            elif first_order is not None:
                weight, bias, self.linear_C_, _ = first_order
                self.net_.set_linear(weight, bias)
            else:
                self.linear_C_ = self._solve_linear(
                    task,
                    _at_most(train, LINEAR_MAX_ROWS, split_seed, task, shared),
                    _at_most(valid, LINEAR_MAX_ROWS, split_seed, task, shared),
                )
        self._training_begins()
        try:
            self.net_.partial_fit((train, valid) if valid is not None else train)
        except KeyboardInterrupt:
            self._keep_interrupted()
            raise
        self.interactions_kept_ = True
        if valid is not None:
            # Ctrl-C in the solves or the second training leaves the model as
            # it stands, history_ included
            try:
                self.interactions_kept_ = self.net_.keep_interactions(
                    valid, KEEP_MIN_VALIDATION_ROWS
                )
                linear = self.net_.linear_part()  # before a mix with the crosses
                blend = self._crosses_gain = None  # crosses are tried afresh only
                if not warm:
                    blend = self._try_crosses(task, train, valid, dataset, split_seed)
                self._announce_interactions()
                if self._retrains(warm, n_samples, shared):
                    self._retrain(task, dataset, params, torch_seed, linear, blend)
                if not self.interactions_kept_ and not self.crosses_kept_:
                    # the model is the linear part alone: refit it on every row
                    # (mixed with crosses, it was refitted before the mix)
                    self._refit_linear(task, dataset)
            except KeyboardInterrupt:
                self._keep_interrupted()
                raise
        self.history_ = self.net_.history
        self._check_converged()
        return self

    def _check_converged(self):
        """Raise, as MLPClassifier does, where training left weights that are
        not finite: every prediction would be NaN (a learning rate too large
        for the data, or unscaled real-valued columns)."""
        if not self.net_.finite():
            raise ValueError(
                f"{type(self).__name__}: training diverged, and the network's "
                "weights are not finite (see history_'s train_loss). Lower lr, "
                "scale the real-valued columns of a sparse matrix, or keep early "
                "stopping on."
            )

    def _partial_fit(self, X, y, sample_weight, n_outputs, criterion, classes, bias):
        """One pass over the rows given, keeping the model and the optimizer
        state; the first call fixes the input layout."""
        first = not hasattr(self, "net_")
        feature_names = getattr(self, "feature_names_in_", None)
        with torch_threads(self.n_jobs):
            if first:
                device = self._start_partial_fit(
                    X, sample_weight, n_outputs, criterion, classes, bias
                )
            else:
                # (every parameter was checked by fit_context, before any
                # change: a batch_size of -1 had trained on no batch)
                device = _check_device(self.device)
                self._check_batches()
                callbacks = self._user_callbacks()  # refused before any change
                self._check_kept_network(self._hidden_units(), streaming=True)
                self._training_begins()
                self.net_.set_dropout(float(self.dropout))
                self._learn_categories(X, feature_names)
                self.net_.move_to(device)
                self.net_.distributed = _distributed.enabled(self.distributed)
                self.net_.stream(
                    callbacks,
                    self._partial_fit_seed() + 2,
                    replace=self.__dict__.get("_callbacks_changed", False),
                )
                # once they initialised (a callback that failed to was
                # dropped silently by the next calls)
                self._callbacks_taken()
                self.net_.set_sparse_gradients(
                    _sparse_gradients(
                        self.net_.optimizer,  # (set_params acts at the next fit)
                        device,
                        self.net_.distributed,
                        callbacks,
                    )
                )
                # what MLPClassifier.partial_fit reads at every call
                self._check_weight_decay(self.net_.optimizer)
                self.net_.set_weight_decay(float(self.alpha))
                self.net_.verbose = self.verbose
                self.net_.batch_size = (
                    self.batch_size
                    if self.batch_size != "auto"  # the size the net was built with
                    else vars(self).get("_built_batch_size", self.net_.batch_size)
                )
                self.interactions_kept_ = True
            if first or not hasattr(self, "_weight_scale"):
                # (a model saved before the scale was kept divided every
                # call by its own mean: it keeps this call's from now on)
                self._weight_scale = self._mean_weight(sample_weight)
            dataset = self._dataset(X, y, sample_weight, feature_names)
            self._n_partial_fit_calls = getattr(self, "_n_partial_fit_calls", 0) + 1
            seed = self._partial_fit_seed()
            self.net_.shuffle_seed = seed
            self.net_.random_stream_ = _seeding.stream_from(seed, device)
            self._training_begins()
            if not self._weighs_something(dataset):
                # every row of weight 0 (by class_weight): no step (Adam had
                # stepped on its moments, predictions moved by up to 0.065),
                # nor an epoch without a loss in the history
                return self
            try:
                self.net_.partial_fit(dataset, epochs=1)
            except KeyboardInterrupt:
                self._keep_interrupted()
                raise
        self.history_ = self.net_.history
        self._check_converged()
        return self

    def _weighs_something(self, dataset):
        """Whether the rows of ``dataset`` (every process's, distributed)
        weigh anything."""
        total = float(dataset.sample_weight.sum()) if len(dataset) else 0.0
        if _distributed.enabled(self.distributed):
            total = float(_distributed.all_sum(total)[0])
        return total > 0

    def _keep_interrupted(self):
        """After Ctrl-C (or an error once training has begun): the model
        predicts with what training has done so far (the best epoch's
        weights under the training schedule)."""
        self.interactions_kept_ = not self.net_.linear_only()
        self.history_ = self.net_.history

    def _training_begins(self):
        """From here, an error in this call leaves the model as training
        leaves it, not as it was before the call (see :func:`fit_context`).
        The estimator describes the training under way: pickled from a
        callback, it had the previous fit's ``history_`` and
        ``interactions_kept_`` (or none) beside this one's net."""
        before = vars(self).pop(_SNAPSHOT, None)
        if before:
            before.clear()
        self._keep_interrupted()

    def _partial_fit_seed(self):
        """A seed for this call, from random_state and the number of calls."""
        base = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return int((base + 7919 * self._n_partial_fit_calls) % np.iinfo(np.int32).max)

    def _start_partial_fit(self, X, sample_weight, n_outputs, criterion, classes, bias):
        """Fix the input layout and build the net on the first call; returns
        the device."""
        device, hidden_units, optimizer = self._settings()
        shared = _distributed.enabled(self.distributed)
        feature_names = getattr(self, "feature_names_in_", None)
        try:
            self._fit_encoder(X, feature_names, shared, sample_weight)
        finally:
            self._encoder.forget_rows()
        batch_size = self.batch_size
        if batch_size == "auto":
            # (rows of weight 0 count nowhere, as in fit)
            n_samples = int(np.count_nonzero(sample_weight))
            if shared:
                n_samples = int(_distributed.all_sum(n_samples)[0])
            batch_size = _auto_batch_size(n_samples)
        self._built_batch_size = batch_size  # what a later 'auto' call keeps
        params = self._net_params(
            device,
            hidden_units,
            optimizer,
            n_outputs,
            criterion,
            classes,
            shared,
            self._user_callbacks(),
        )
        self._n_partial_fit_calls = 0
        # callbacks set since the last fit start with this one's net: the
        # next partial_fit goes on with them (it had initialised them again)
        self._callbacks_taken()
        self.net_ = DeepFMNet(
            **params,
            optimizer__param_groups=self._linear_group(),
            batch_size=batch_size,
            iterator_valid__batch_size=predict_rows(device, batch_size),
            max_epochs=1,
            init_seed=self._partial_fit_seed(),
        )
        self._announce_layout()
        self.net_.initialize()
        self.net_.set_bias(bias)
        self.linear_C_ = None
        self.crosses_kept_ = False
        self.crosses_share_ = 0.0
        self.interactions_kept_ = True
        return device

    def _learn_categories(self, X, feature_names):
        """Give the categories first seen in X their own embedding rows."""
        unseen = self._encoder.unseen_categories(X, feature_names)
        lists = self._encoder.lists_to_come(X, feature_names)
        if _distributed.enabled(self.distributed):
            unseen = _distributed.share_unseen(unseen)
            lists = _distributed.share_lists(lists)
        new_rows = self._encoder.extend(unseen, lists)
        if new_rows is None:
            return
        generator = torch.Generator().manual_seed(self._partial_fit_seed() + 1)
        self.net_.grow(new_rows, self._encoder.n_embeddings_, generator)
        self._set_layout()
        if lists and not self.input_layout_.sparse:
            self.net_.set_bag_fields(self.input_layout_.multivalued)

    def _set_layout(self):
        self.input_layout_ = self._encoder.layout_
        self.n_fields_ = self.input_layout_.n_fields
        self.fields_ = self.input_layout_.column_fields
        self.is_categorical_ = self.input_layout_.is_categorical

    def _net_params(
        self,
        device,
        hidden_units,
        optimizer,
        n_outputs,
        criterion,
        classes,
        shared,
        callbacks,
    ):
        """The skorch net's settings that fit and partial_fit share."""
        return {
            "module": DeepFM,
            "module__n_embeddings": self._encoder.n_embeddings_,
            "module__n_fields": self.n_fields_,
            "module__embedding_dim": int(self.embedding_dim),
            "module__hidden_units": hidden_units,
            "module__n_outputs": n_outputs,
            "module__dropout": float(self.dropout),
            "module__batch_norm": self.batch_norm,
            "module__sparse": _sparse_gradients(optimizer, device, shared, callbacks),
            "module__mlp_dtype": self._decide_precision(device, shared),
            # a table's multi-valued fields arrive as bags, the others as slots
            "module__bag_fields": ()
            if self.input_layout_.sparse
            else self.input_layout_.multivalued,
            "criterion": criterion,
            "criterion__reduction": "none",
            "optimizer": optimizer,
            # Python numbers (np.float32's lr stepped Adam in float32: up to
            # 0.018 off; TorchScript refuses NumPy scalars in a module)
            "lr": float(self.lr),
            "train_split": None,
            "device": str(device),
            "verbose": self.verbose,
            "callbacks": callbacks,
            "classes": classes,
            "distributed": shared,
        } | (
            {"optimizer__weight_decay": float(self.alpha)}
            if _takes_weight_decay(optimizer)
            else {}
        )

    def _linear_group(self):
        """The first-order weights learn LINEAR_LR_FACTOR times faster."""
        return [("linear.*", {"lr": float(self.lr) * LINEAR_LR_FACTOR})]

    def _announce_layout(self):
        """With verbose, print what fit decided about the input, first."""
        if self.verbose:
            print(f"{type(self).__name__} input:\n{self.input_layout_}")

    def _announce_interactions(self):
        """With verbose, say whether the recipe kept the FM and deep parts and
        why: a model left linear scores the same whatever its embedding size."""
        if not self.verbose:
            return
        last = self.net_.history[-1]
        gain, error = last["interactions_gain"], last["interactions_gain_error"]
        rows = last["interactions_validation_rows"]
        enough = rows >= KEEP_MIN_VALIDATION_ROWS
        kept = gain > error and enough  # the keep-or-drop test, before the crosses
        verdict = "kept" if kept else "dropped"
        few = (
            ""
            if enough
            else f" They are dropped whatever the gain on a hold-out of fewer "
            f"than {KEEP_MIN_VALIDATION_ROWS} rows; this one has {rows}."
        )
        model = "the linear part alone"
        if self.crosses_share_ == 1:
            model = "the linear model over the fields and their pairwise crosses"
        elif self.crosses_kept_:
            model = (
                "the linear part mixed with the linear model over the fields and "
                "their pairwise crosses"
            )
        # (a warm fit tries no crosses: nothing about them follows)
        below = ", see below" if getattr(self, "_crosses_gain", None) else ""
        print(
            f"{type(self).__name__}: interactions {verdict}: they lower the mean "
            f"validation loss by {gain:.5f} (standard error {error:.5f}); they are "
            "kept when the gain exceeds one standard error."
            + few
            + (
                ""
                if self.interactions_kept_
                else f" The model is {model} (interactions_kept_ is False"
                f"{below}): settings of the FM and deep parts, such as "
                "embedding_dim, do not change its predictions."
            )
        )
        if getattr(self, "_crosses_gain", None) is not None:
            gain, error = self._crosses_gain
            verdict = (
                f"kept, {self.crosses_share_:.1f} of the raw outputs"
                if self.crosses_kept_
                else "left out"
            )
            print(
                f"{type(self).__name__}: pairwise crosses {verdict}: the linear "
                "model over the fields and their pairwise crosses, mixed into "
                "the model above (half and half unless another share is "
                "clearly better on the validation rows), lowers their mean "
                f"loss by {gain:.5f} (standard error "
                f"{error:.5f}); against the trained model the mix is kept "
                "unless it is worse by more than one standard error, against "
                "the linear part alone when it gains more than one."
                + (
                    " The model is that linear model (crosses_share_ is 1)."
                    if self.crosses_share_ == 1
                    else ""
                )
            )

    def _decide_precision(self, device, shared=False):
        """The deep part's autocast dtype; ``mixed_precision_`` records it.
        Distributed, 'auto' chooses bfloat16 only where every process would
        (each decided for itself, and a process on another CPU or device
        trained in float32 beside the others' bfloat16)."""
        dtype = _mlp_dtype(self.mixed_precision, device)
        if shared and self.mixed_precision == "auto":
            if not all(_distributed.gather(dtype is not None)):
                dtype = None
        self.mixed_precision_ = dtype is not None
        return dtype

    def _mean_weight(self, sample_weight):
        """Mean sample weight of the rows of positive weight, over every
        process's rows when distributed: a row of weight 0 counts nowhere
        (as 1,500 such rows beside 1,500 rows of weight 1, counted, they
        doubled the others' weights, and the model left linear at C=0.3 was
        LogisticRegression's at C=0.6)."""
        if _distributed.enabled(self.distributed):
            return _distributed.mean_weight(sample_weight)
        return sample_weight.sum() / max(np.count_nonzero(sample_weight), 1)

    def _holdout_problem(self, dataset, classes):
        """Why no hold-out can be drawn from ``dataset`` (None where one can):
        stratified (``classes`` given), every class needs a row on each side;
        else each side a row."""
        n_valid = int(np.ceil(self.validation_fraction * len(dataset)))
        weighed = ""
        if getattr(dataset, "n_weightless", 0):
            weighed = " of positive weight (rows of weight 0 count nowhere)"
        if classes is None:
            if len(dataset) - n_valid < 1:
                return (
                    f"early stopping holds out validation_fraction="
                    f"{self.validation_fraction} of the rows, which leaves no "
                    f"training row of {len(dataset)}{weighed}"
                )
            return None
        counts = np.bincount(dataset.y.astype(np.int64), minlength=len(classes))
        if _distributed.enabled(self.distributed):
            counts = counts[counts > 0]  # a shard may lack a class
        n_train = len(dataset) - n_valid
        if counts.min() < 2 or min(n_valid, n_train) < counts.size:
            return (
                f"early stopping holds out a stratified validation_fraction="
                f"{self.validation_fraction} of the rows, which needs at least 2 "
                f"rows of every class and at least one row per class on each "
                f"side; the smallest class has {counts.min()} row(s){weighed} and the "
                f"hold-out would have {n_valid} and the training rows {n_train} "
                f"row(s) for {len(classes)} classes"
            )
        return None

    def _holdout(self, dataset, classes, seed):
        stratify = classes is not None
        problem = self._holdout_problem(dataset, classes)
        if problem is not None:  # (scikit-learn's split had said "n_samples=1")
            # validation_fraction offered only where some value would do
            # (a class of one row, or one row, cannot be on both sides)
            if stratify:
                counts = np.bincount(dataset.y.astype(np.int64))
                counts = counts[counts > 0]
                fraction = counts.min() >= 2 and len(dataset) >= 2 * counts.size
                advice = "Set early_stopping=False" + (
                    ", change validation_fraction, or merge the rarest classes."
                    if fraction
                    else " or merge the rarest classes."
                )
            else:
                advice = "Set early_stopping=False" + (
                    " or change validation_fraction." if len(dataset) >= 2 else "."
                )
            raise ValueError(f"{problem[0].upper()}{problem[1:]}. {advice}")
        train, valid = HoldoutSplit(self.validation_fraction, stratify, seed)(dataset)
        for rows, which in ((train, "training"), (valid, "validation")):
            total = rows.sample_weight.sum()
            if _distributed.enabled(self.distributed):
                total = _distributed.all_sum(total)[0]
            if not total > 0:
                # as SGDClassifier: no row to learn from, or every decision
                # falls to its default with nothing said
                raise _WeightlessSide(
                    f"early stopping holds out validation_fraction="
                    f"{self.validation_fraction} of the rows, and the sample "
                    f"weights of the {which} rows are all zero"
                )
        return train, valid

    def _read_many_valued(self, task, X, feature_names, train, valid, seed):
        """Read as a number instead of categories each column of whole
        numbers with a value per row or nearly (the guess ``'auto'`` warns
        about) whose number beats its categories in the linear model on the
        validation rows by a standard error of the per-row difference (the
        rule of the C choice).  Returns whether any was, and the linear part
        solved with every such column as categories when none was (what
        :meth:`_solve_linear` would solve on these rows; None otherwise).

        Nothing in such a column tells a quantity from an identifier, and the
        linear model on the validation rows did: Adult's fnlwgt, a census
        weight, lowered the validation log loss by 0.007 as a number, and was
        read as one on all five quality.py splits (test AUC 0.9277 -> 0.9307,
        log loss 0.2781 -> 0.2720); Avazu's device_ip given as integer codes
        did 0.0003 to 0.0010 worse and stayed categories (read as a number it
        cost 0.0059 AUC).  Univariate tests on the training rows could not
        tell them apart (benchmarks/results/recipe_research.md, sixth
        session, 5).

        When distributed, a column is asked about when it has a value per row
        or nearly on every process's rows, and the comparison, the choice and
        the number's scaling are those of every process's rows together."""
        shared = _distributed.enabled(self.distributed)
        all_sum = _distributed.all_sum if shared else None
        fields = self._encoder.many_valued_fields()
        if shared:  # such a column on every process's rows
            fields = _distributed.common(fields)
        if not fields:
            return False, None
        train = _at_most(train, LINEAR_MAX_ROWS, seed, task, shared)
        valid = _at_most(valid, LINEAR_MAX_ROWS, seed, task, shared)
        designs = [self._design(train), self._design(valid)]
        losses, solved = {}, {}
        for field in [None, *fields]:
            fit_design, valid_design = designs
            if field is not None:
                layout = self.input_layout_.fields[field]
                stop = layout.offset + layout.n_embeddings
                values = self._encoder.category_values(field)
                fit_design, valid_design = with_number(
                    designs, layout.offset, stop, values, all_sum
                )
            solved[field] = self._fit_first_order(
                task,
                (fit_design, train.y, train.sample_weight),
                (valid_design, valid.y, valid.sample_weight),
                None,
            )
            losses[field] = solved[field][3]
        numbers = [
            field
            for field in fields
            if self._choose({None: losses[None], field: losses[field]}, None) == field
        ]
        if not numbers:
            return False, solved[None]
        for field in numbers:
            self._encoder.read_as_number(field, X, feature_names, all_sum)
        self._set_layout()
        return True, None

    def _solve_linear(self, task, train, valid, C=None, crosses=None, start=None):
        """Fit the first-order part as scikit-learn's linear model (C chosen
        on ``valid`` when given; over the fields and the crosses ``(pairs,
        keys)`` when given; from ``start``, ``(weight, bias)``, when given)
        and fix it in the net; returns C."""
        fit_rows = (
            self._design(train, crosses),
            train.y,
            train.sample_weight,
        )
        valid_rows = None
        if valid is not None:
            valid_rows = (
                self._design(valid, crosses),
                valid.y,
                valid.sample_weight,
            )
        weight, bias, C, _ = self._fit_first_order(
            task, fit_rows, valid_rows, C, start=start
        )
        self.net_.set_linear(weight, bias, crosses)
        return C

    def _refit_linear(self, task, dataset, start=None):
        """Refit the first-order part on ``dataset`` (every row) at the chosen
        C, started from ``start`` or else the solution in the net (that of
        the training rows): on Diabetes' fields (81,441 x 2,783) 2 Newton
        steps and 0.7 s instead of 12 and 1.7 s from zero, the test AUC
        unchanged to 1e-4 (benchmarks/results/recipe_research.md, eighth
        session)."""
        if start is None:
            start = self.net_.linear_part()
        if self.linear_C_ is None:
            # (a warm fit after one that learnt it by gradient steps)
            self.linear_C_ = DEFAULT_C
        self._solve_linear(task, dataset, None, C=self.linear_C_, start=start)

    def _try_crosses(self, task, train, valid, dataset, seed):
        """Mix into the model the linear model over the fields and every
        pairwise cross of the categorical fields (LR + crosses, see
        :mod:`~sklearn_deepfm._crosses`), in the share of the raw outputs
        :meth:`_crosses_share` chooses, when the mix beats the model alone;
        sets ``crosses_share_`` and ``crosses_kept_``, and returns the
        arguments of the mix (:meth:`~sklearn_deepfm._net.DeepFMNet.blend_linear`),
        None when there is none."""
        self.crosses_kept_ = False
        self.crosses_share_ = 0.0
        self._crosses_gain = None
        # every process's validation rows, as the keep test just counted them
        n_valid = self.net_.history[-1, "interactions_validation_rows"]
        if n_valid < CROSSES_MIN_VALIDATION_ROWS:
            return
        shared = _distributed.enabled(self.distributed)
        train = _at_most(train, LINEAR_MAX_ROWS, seed, task, shared)
        valid = _at_most(valid, LINEAR_MAX_ROWS, seed, task, shared)
        pairs = self._cross_pairs(len(train), shared)
        if not len(pairs):
            return
        crosses = (pairs, self._seen_crosses(train, pairs, shared))
        design = self._design(valid, crosses)
        refit, refit_crosses = self._crossed_refit(
            task, train, valid, dataset, crosses, seed
        )
        weight, bias, C, _ = self._fit_first_order(
            task,
            (self._design(train, crosses), train.y, train.sample_weight),
            (design, valid.y, valid.sample_weight),
            None,
            # the weakest regularisation takes longest on these wide matrices:
            # on Criteo's 1.7 million crosses the five values of C took 54 s,
            # stopped once the validation loss rose (after C=0.1) 31 s
            stop_when_worse=True,
            refit=refit,
        )
        share, gain, error = self._crosses_share(
            task, self.net_.predict_raw(valid), design @ weight + bias, valid, shared
        )
        self._crosses_gain = (gain, error)
        # against a trained model, the mix stays unless clearly worse; against
        # the linear model over the fields alone, the crosses must win clearly
        margin = CROSSES_MARGIN if self.interactions_kept_ else LINEAR_MARGIN
        keep = bool(share > 0 and gain > margin * error)
        history = self.net_.history
        history.record("crosses_kept", keep)
        history.record("crosses_share", share if keep else 0.0)
        history.record("crosses_C", C)
        history.record("crosses_gain", gain)
        history.record("crosses_gain_error", error)
        if not keep:
            return
        if share < 1 and not self.interactions_kept_:
            # the linear part alone, refitted on every row before the mix
            self._refit_linear(task, dataset)
        weight, bias = refit.solution(C, weight, bias)
        blend = (share, weight, bias, refit_crosses())
        self.net_.blend_linear(*blend)
        # set once mixed: Ctrl-C in the refits above leaves no crosses
        self.crosses_kept_ = True
        self.crosses_share_ = share
        if share == 1:
            history.record("interactions_kept", False)
            self.interactions_kept_ = False
        return blend

    def _retrains(self, warm, n_samples, shared):
        """Whether the FM and deep parts that the recipe kept are trained
        again on every row (see RETRAIN_MAX_ROWS): not after a warm start,
        nor with the user's callbacks, which watched the first training, on
        any process (callbacks on one process only had left the others
        waiting in the second training's collectives)."""
        if not self.interactions_kept_ or warm or n_samples > RETRAIN_MAX_ROWS:
            return False
        callbacks = int(bool(self.callbacks))
        if shared:
            callbacks = _distributed.all_sum(callbacks)[0]
        return not callbacks

    def _retrain(self, task, dataset, params, seed, linear, blend):
        """Train the FM and deep parts again, from the same start, on every
        row of ``dataset`` (the validation rows included) along the course
        the validation rows chose (:class:`~sklearn_deepfm._schedule.ReplaySchedule`),
        over the first-order part ``linear`` refitted on every row; then mix
        in the crossed model as the first net was (``blend``).  The first
        net's history, with its validation, stays the model's; on Ctrl-C the
        first net is the model."""
        first = self.net_
        epochs, cuts = replayed(first.history)
        if self.verbose:
            print(
                f"{type(self).__name__}: the FM and deep parts, kept, are trained "
                f"again on every row for {epochs} epoch(s), as chosen above."
            )
        net = DeepFMNet(
            **{
                **params,
                "callbacks": [(SCHEDULE, ReplaySchedule(epochs, cuts))],
                "max_epochs": epochs,
                "init_seed": int(seed),
            }
        )
        net.initialize()
        self.net_ = net
        try:
            self._refit_linear(task, dataset, start=linear)
            net.partial_fit(dataset)
            if blend is not None:  # (Ctrl-C here left the crosses out)
                net.blend_linear(*blend)
        except BaseException:
            self.net_ = first
            raise
        first.history.record("retrained_epochs", epochs)
        net.history = first.history

    def _crossed_refit(self, task, train, valid, dataset, crosses, seed):
        """``(refit, refit_crosses)``: the :class:`~sklearn_deepfm._linear.Refit`
        of the crossed linear model (solved on ``train`` with the crosses
        ``(pairs, keys)``) on every row, or as many as keep the crossed
        entries in bounds, and a function that gives its crosses (those seen
        in its rows) once it is built."""
        pairs, keys = crosses
        shared = _distributed.enabled(self.distributed)
        n_solved = len(train) + len(valid)
        if shared:
            n_solved = int(_distributed.all_sum(n_solved)[0])
        n_rows = max(n_solved, MAX_CROSSED_ENTRIES // len(pairs))
        built = {}

        def build():
            rows = _at_most(dataset, n_rows, seed, task, shared)
            built["crosses"] = (pairs, self._seen_crosses(rows, pairs, shared))
            return self._design(rows, built["crosses"]), rows.y, rows.sample_weight

        def carry(weight, bias):
            return carry_crosses(weight, keys, built["crosses"][1]), bias

        def solve(rows, C, start):
            return self._fit_first_order(task, rows, None, C, start=start)[:2]

        return Refit(build, carry, solve), lambda: built["crosses"]

    def _crosses_share(self, task, current, crossed, valid, shared):
        """``(share, gain, error)``: the share of the crossed linear model's
        raw outputs ``crossed`` in a mix with the model's ``current``, the
        even mix unless the share of CROSSES_SHARES with the lowest
        validation loss beats it by a standard error (over every process's
        rows when shared), and how much lower the mix's row losses are than
        the model's alone (mean and standard error)."""
        current = current.reshape(crossed.shape)
        y, weight = valid.y, valid.sample_weight
        losses = {
            share: output_losses(
                task, (1 - share) * current + share * crossed, y, weight
            )
            for share in CROSSES_SHARES
        }
        # the rule of the C choice, with the even mix as the default
        share = self._choose(losses, 0.5)
        gain, error = _distributed.mean_and_error(losses[0.0] - losses[share], shared)
        return share, float(gain), float(error)

    def _choose(self, losses, default):
        """:func:`~sklearn_deepfm._linear.choose` over the validation rows of
        every process when distributed."""
        if _distributed.enabled(self.distributed):
            return choose_shared(losses, _distributed.all_sum, default=default)
        return choose(losses, default=default)

    def _design(self, dataset, crosses=None):
        """The design matrix of the linear solve (see
        :func:`~sklearn_deepfm._linear.design_matrix`), with the columns of
        the crosses ``(pairs, keys)`` after the features' when given."""
        design = design_matrix(dataset.rows, self._encoder.n_embeddings_)
        if crosses is None:
            return design
        pairs, keys = crosses
        categories = self.net_.category_rows(dataset.rows)
        return sp.hstack([design, cross_matrix(categories, pairs, keys)], format="csr")

    def _cross_pairs(self, n_rows, shared):
        """The pairs of fields whose crosses are tried: every pair of the
        crossable fields, unless the solve's rows would hold more than
        MAX_CROSSED_ENTRIES crossed entries."""
        pairs = field_pairs(crossable_fields(self.input_layout_))
        if shared:
            n_rows = int(_distributed.all_sum(n_rows)[0])
        if n_rows * len(pairs) > MAX_CROSSED_ENTRIES:
            return field_pairs([])
        return pairs

    def _seen_crosses(self, rows, pairs, shared):
        """The sorted keys of the crosses in ``rows`` (of every process's
        rows when shared)."""
        keys = seen_keys(self.net_.category_rows(rows.rows), pairs)
        return _distributed.union(keys) if shared else keys

    def _fit_first_order(
        self,
        task,
        fit_rows,
        valid_rows,
        C,
        stop_when_worse=False,
        start=None,
        refit=None,
    ):
        """``(weight, bias, C, validation row losses)`` of the linear model
        (see :func:`~sklearn_deepfm._linear.fit_linear`; when distributed,
        the shared solve starts from zero and runs no refit beside the
        sweep)."""
        if _distributed.enabled(self.distributed):
            n_outputs = len(self.classes_) if task == "multiclass" else 1
            return fit_linear_shared(
                task,
                n_outputs,
                fit_rows,
                valid_rows,
                C,
                _distributed.all_sum,
                stop_when_worse,
            )
        return fit_linear(
            task,
            fit_rows,
            valid_rows,
            C=C,
            random_state=0,
            stop_when_worse=stop_when_worse,
            n_threads=n_threads(self.n_jobs),
            start=start,
            refit=refit,
        )

    def _raw_predict(self, X):
        """Module outputs for X, float64 of shape (n_samples, n_outputs)."""
        rows = self._encode(X)
        device = _check_device(self.device)
        with torch_threads(self.n_jobs):
            self.net_.move_to(device)
            return self.net_.predict_raw(EncodedDataset(rows))

    def _field_names(self):
        """Name of each field: column names, field labels or ``"field f"``."""
        # the labels fitted, not ones set since
        fields = getattr(self._encoder, "labels", self._encoder.fields)
        if fields is not None:
            # fields_ numbers the user's labels in order of first appearance
            labels = [None] * self.n_fields_
            for label, field in zip(list(fields), self.fields_, strict=True):
                if labels[field] is None:
                    labels[field] = (label,)
            names = [str(label) for (label,) in labels]
            # labels that print alike (0 and '0', None and 'None') by their
            # repr: shap takes a column by name, and took the first of two
            twins = {name for name in names if names.count(name) > 1}
            return [
                repr(label) if name in twins else name
                for name, (label,) in zip(names, labels, strict=True)
            ]
        names = [f"field {field}" for field in range(self.n_fields_)]
        if getattr(self, "feature_names_in_", None) is not None:
            names = [
                field.names[0] if len(field.names) == 1 else f"{field.names[0]}..."
                for field in self.input_layout_.fields
            ]
        return [
            name if field.number_of is None else f"{name} (number)"
            for name, field in zip(names, self.input_layout_.fields, strict=True)
        ]

    def _explain(self, X, n_permutations, random_state, scale=1.0, shift=0.0):
        """The :class:`Explanation` of X's outputs, times ``scale`` plus
        ``shift`` (the base values only)."""
        check_is_fitted(self)
        if not (
            n_permutations in ("auto", "exact")
            or (
                isinstance(n_permutations, numbers.Integral)
                and not isinstance(n_permutations, bool)
                and n_permutations >= 1
            )
        ):
            raise ValueError(
                "n_permutations must be 'auto', 'exact' or a positive int, got "
                f"{n_permutations!r}."
            )
        X = self._validate_X(X, reset=False)
        feature_names = getattr(self, "feature_names_in_", None)
        rows = self._encoder.transform(X, feature_names)
        data = self._encoder.field_values(X, feature_names)
        device = _check_device(self.device)
        with torch_threads(self.n_jobs):
            self.net_.move_to(device)
            interactions, base, method, sampled = field_attributions(
                self.net_, EncodedDataset(rows), n_permutations, random_state
            )
        interactions *= scale
        base = np.tile(base * scale + shift, (interactions.shape[0], 1))
        output_names = None
        if interactions.shape[-1] == 1:
            interactions, base = interactions[..., 0], base[:, 0]
        else:
            output_names = [str(label) for label in self.classes_]
        return Explanation(
            interactions.sum(axis=2),
            base,
            interactions,
            data,
            self._field_names(),
            output_names=output_names,
            method=method,
            n_permutations=sampled,
        )

    def _sample_weight(self, sample_weight, X, first=True, class_weights=None):
        """The checked weights (times each row's ``class_weights``, where
        given), divided by the unit of ``fit``'s or the first
        ``partial_fit`` call's: 1, or their largest where they sum to
        infinity (only their ratios matter: weights of 1e307 trained on NaN,
        every weight divided by their mean became 0).  Distributed, the sum
        and the largest are every process's, so that the unit is one for all
        (each took its own, and the ratio of two processes' weights was
        lost), and one process's rows may all weigh 0 (it failed alone)."""
        shared = _distributed.enabled(self.distributed)
        sample_weight = _check_sample_weight(
            sample_weight,
            X,
            dtype=np.float64,
            ensure_non_negative=True,
            allow_all_zero_weights=shared,
        )
        if class_weights is not None:
            class_weights = np.asarray(class_weights, dtype=np.float64)
            valid = np.isfinite(class_weights) & (class_weights >= 0)
            if not valid.all():
                # (a negative weight trained on negative row weights: P = 1
                # for every row; NaN read as "every row a weight of 0")
                raise ValueError(
                    f"class_weight must give every class a finite, non-negative "
                    f"weight; got {float(class_weights[~valid][0])!r}."
                )
            # before the unit and the test of the sum, which they change
            # (all zero: "training diverged"; 1e308: NaN)
            sample_weight = sample_weight * class_weights

        def pooled(weights):
            with np.errstate(over="ignore"):
                total = weights.sum()
            largest = weights.max(initial=0.0)
            if shared:
                with np.errstate(over="ignore"):
                    total = sum(_distributed.gather(float(total)))
                largest = max(_distributed.gather(float(largest)))
            return total, largest

        total, largest = pooled(sample_weight)
        if not total > 0 and class_weights is None:
            raise ValueError(
                "sample_weight must have a positive sum; all weights are zero."
            )
        if not total > 0 and first:  # (a later call's rows may all weigh 0)
            raise ValueError(
                "The class weights (class_weight) and sample_weight give every "
                "row a weight of 0; some row must weigh more."
            )
        if first:
            self._weight_unit = 1.0 if np.isfinite(total) else largest
        unit = getattr(self, "_weight_unit", 1.0)
        if unit != 1.0:
            sample_weight = sample_weight / unit
            total, _ = pooled(sample_weight)
        if not np.isfinite(total):
            raise ValueError(
                "sample_weight sums to infinity next to the weights of the "
                "first partial_fit call; scale every call's weights alike, "
                "to smaller numbers."
            )
        return sample_weight


def _same_objects(callbacks, in_use):
    """Whether a ``callbacks`` parameter holds the very objects the net
    trains with, ``in_use`` (None after loading: not saved, and the loaded
    net starts its callbacks afresh anyway)."""
    callbacks = list(callbacks or ())
    return (
        in_use is not None
        and len(callbacks) == len(in_use)
        and all(new is old for new, old in zip(callbacks, in_use, strict=True))
    )


def _rows_as_array(rows):
    """A list of rows as an array; cell by cell, as objects, where cells are
    lists (a multi-valued column: NumPy failed on them, "inhomogeneous
    shape", or made them a third dimension)."""
    try:
        array = np.asarray(rows)
        if array.ndim <= 2:
            # mixing numbers and text, the rows keep their numbers, as in
            # scikit-learn's encoders (NumPy makes every cell text: a column
            # of floats became 1,000 categories)
            return np.asarray(rows, dtype=object) if array.dtype.kind in "US" else array
    except ValueError:
        pass
    rows = list(rows)
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError(
            f"X is a list of rows of different lengths ({sorted(widths)}); every "
            "row must hold one value per column."
        )
    array = np.empty((len(rows), widths.pop() if widths else 0), dtype=object)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            array[i, j] = cell
    return array


def _device_type(device):
    """The type of a ``device`` parameter, None for one that names no device
    (set since the fit, refused at the next: a file saved then could not
    be loaded)."""
    try:
        return torch.device(device).type
    except (RuntimeError, TypeError, ValueError):
        return None


def _takes_weight_decay(optimizer):
    """Whether the optimizer class takes a ``weight_decay`` argument."""
    try:
        parameters = inspect.signature(optimizer).parameters
    except (TypeError, ValueError):  # (no signature to read: assume so)
        return True
    # (a subclass may pass its keywords on: **kwargs)
    return "weight_decay" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters.values()
    )


def _is_width(width):
    """Whether ``width`` is a positive whole number (not a bool): a layer
    width."""
    if isinstance(width, (bool, np.bool_)) or not isinstance(width, numbers.Real):
        return False
    return math.isfinite(width) and float(width).is_integer() and width >= 1


class _WeightlessSide(ValueError):
    """A side of the hold-out whose sample weights are all zero: the
    ``problem`` 'auto' warns of, and the error of ``early_stopping=True``."""

    def __init__(self, problem):
        self.problem = problem
        super().__init__(
            f"{problem[0].upper()}{problem[1:]}. Use another random_state or "
            "validation_fraction, or early_stopping=False."
        )


_validated = _fit_context(prefer_skip_nested_validation=True)

# A fit or partial_fit call's snapshot of the estimator, held in a list that
# _training_begins empties (dropping the old model, which a refit kept alive
# through its training) and removes.
_SNAPSHOT = "_before_call"


def fit_context(fit):
    """``fit`` or ``partial_fit`` with scikit-learn's parameter validation,
    and undone where it raises before training begins: a refused call (bad
    X, y, weights or parameters, a hold-out that cannot be drawn, Ctrl-C in
    the first-order solve) leaves the estimator as it was.  They assigned
    ``classes_``, the target's scaling and the encoder first, and a refused
    refit left the old net relabelled (1 and 0 predicted as 'spam' and
    'ham'), rescaled (3.98 became 1397.7), or unable to predict at all, and
    a refused first fit looking fitted.  Once training has begun (in a warm
    fit or a later ``partial_fit`` call, once the model changes in place),
    an error leaves the model as training left it, as Ctrl-C does."""

    @functools.wraps(fit)
    def fit_or_undo(self, *args, **kwargs):
        vars(self).pop(_SNAPSHOT, None)  # (a model saved during a fit)
        before = [dict(vars(self))]
        vars(self)[_SNAPSHOT] = before
        try:
            if _distributed.enabled(self.distributed):  # the call's first collective
                _distributed.same_settings(self.get_params(deep=False))
            return fit(self, *args, **kwargs)
        except BaseException:
            if before:
                vars(self).clear()
                vars(self).update(before[0])
            else:
                self._keep_interrupted()
            raise
        finally:
            vars(self).pop(_SNAPSHOT, None)

    validated = _validated(fit_or_undo)

    @functools.wraps(fit)
    def checked(self, *args, **kwargs):
        # scikit-learn checks the parameters at the first partial_fit call
        # only (class_weight=5 set between calls met a raw TypeError); here,
        # outside its wrapper, which turns the checks off for what it calls
        later_call = fit.__name__ == "partial_fit" and hasattr(self, "net_")
        if later_call and not get_config()["skip_parameter_validation"]:
            self._validate_params()
        return validated(self, *args, **kwargs)

    return checked
