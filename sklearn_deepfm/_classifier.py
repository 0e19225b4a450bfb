"""DeepFMClassifier: binary and multiclass classification."""

import numpy as np
import torch
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    validate_data,
)

from ._base import BaseDeepFM, fit_context


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
    lr : float, default=2e-3
        Learning rate of the embeddings and the deep part.  The first-order
        weights and the bias learn 5 times faster (a linear model needs
        larger steps than the network to fit before the network over-fits).
    batch_size : int or 'auto', default='auto'
        Rows per training step. 'auto' uses ``clip(n_samples // 50, 64, 1024)``.
    max_epochs : int, default=100
        Upper bound on the number of passes over the training data (early
        stopping usually ends training sooner).
    optimizer : {'adam', 'adamw', 'sgd', 'adagrad', 'rmsprop'} or \
            torch.optim.Optimizer subclass, default='adam'
        Optimizer used for all parameters.
    early_stopping : 'auto' or bool, default='auto'
        Whether to train with the default recipe, which holds out
        ``validation_fraction`` of the training rows (stratified, seeded by
        ``random_state``):
        first a linear warm-up trains only the first-order weights and the
        bias while the validation loss improves (at most 2,000 steps, counted
        in whole epochs); then the whole model trains, the learning rates
        are multiplied by 0.1 after every epoch whose validation loss does
        not improve, and training stops after ``n_iter_no_change`` such
        epochs; finally the weights of the best epoch, warm-up included, are
        restored.  The ``phase`` and ``best_epoch`` of each epoch are
        recorded in ``history_``.  'auto' enables it when the training set
        has at least 1000 rows; with False, the model trains for
        ``max_epochs`` epochs on all rows.
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping.
    n_iter_no_change : int, default=2
        Epochs without improvement of the validation loss before stopping.
    fields : array-like of shape (n_features,), default=None
        Field label of each column of a sparse matrix (or of a numeric array,
        which is then read as a sparse one): columns that share a label form
        one field of the deep part.  None infers the fields of sparse input
        from contiguous one-hot blocks (each column of the input of a
        ``OneHotEncoder`` becomes one field; see the user guide).
    categorical_features : 'auto', 'from_dtype', None, array-like of bool, \
            int or str, default='auto'
        Which columns of a dense array or DataFrame are categorical, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`: a boolean
        mask, column indices or column names.  'auto' treats a numeric column
        as categorical when all its values are non-negative integers (codes
        such as ``OrdinalEncoder`` produces, int or float dtype).  With
        'from_dtype' or None only non-numeric DataFrame columns (category,
        object, string, bool) are categorical; those always are.  Categories
        unseen in ``fit``, negative codes and missing values map to a
        per-field unknown embedding.  Numeric columns are standardised and
        scale one embedding each.
    device : str, default='cpu'
        Torch device to train and predict on: 'cpu', 'cuda' or 'cuda:N'.
    mixed_precision : bool or 'auto', default=False
        Whether the matrix products of the deep part run in bfloat16 (under
        ``torch.autocast``); the parameters, the embeddings, the FM and the
        outputs stay float32.  On a CPU with AMX tiles (Intel Xeon of the 4th
        generation and later) it trained 1.3 to 1.6 times and predicted about
        2 times faster at the benchmark's setting; with the default recipe
        the test AUC of each seed moved by at most 0.001 on five of six real
        data sets and fell by 0.007 on one seed of the sixth (Avazu).  On
        CPUs without native bfloat16 it is much slower.  'auto'
        enables it only on CPUs with AMX tiles (not on CUDA); True forces it,
        and on CUDA needs a device with bfloat16 support.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` tuples).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling, dropout and the validation
        split.  An int gives identical predictions on CPU for identical data.
        The global torch random state is left untouched.
    verbose : int, default=0
        1 prints skorch's per-epoch table.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names seen in ``fit``; set only when X has string column names.
    n_fields_ : int
        Number of fields the deep part sees.
    fields_ : ndarray of shape (`n_features_in_`,)
        Field id of each input column.
    is_categorical_ : ndarray of shape (`n_features_in_`,) of bool or None
        Which columns were treated as categorical (None for sparse input).
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
        y = validate_data(self, X="no_validation", y=y)
        check_classification_targets(y)
        X = self._validate_X(X, reset=True)
        check_consistent_length(X, y)
        sample_weight = self._sample_weight(sample_weight, X)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, "
                f"but y contains only one class: {self.classes_[0]!r}."
            )
        prior = np.bincount(y_index, weights=sample_weight, minlength=n_classes)
        prior = np.clip(prior / prior.sum(), 1e-6, 1)
        if n_classes == 2:
            target = y_index.astype(np.float32)
            criterion = torch.nn.BCEWithLogitsLoss
            bias = np.log(prior[1:] / prior[:1])
        else:
            target = y_index.astype(np.int64)
            criterion = torch.nn.CrossEntropyLoss
            bias = np.log(prior)
        return self._fit(
            X,
            target,
            sample_weight,
            n_outputs=1 if n_classes == 2 else n_classes,
            criterion=criterion,
            initial_bias=bias.astype(np.float32),
            classes=np.arange(n_classes),
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
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

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
