"""The skorch net that trains a DeepFM module on encoded rows.

skorch owns the training loop, callbacks, history and device handling; this
subclass only replaces the data path (slicing encoded arrays instead of
skorch's per-row, densifying Dataset), weights the loss per sample, and lets
a ``KeyboardInterrupt`` (Ctrl-C) reach the caller, where skorch would end
training quietly.
"""

import copy
import re
import sys
import time

import numpy as np
import torch
from sklearn.utils import ClassifierTags
from skorch import NeuralNet
from skorch.callbacks import Callback, PassthroughScoring, PrintLog, ProgressBar
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from tqdm import tqdm

from . import _distributed, _seeding
from ._allocator import retain_freed_memory
from ._batching import (
    BatchIterator,
    EncodedDataset,
    RegularRows,
    StepBatchIterator,
)
from ._crosses import MAX_CROSSED_ENTRIES
from ._schedule import SCHEDULE, StopTraining

# Rows per padding block at prediction; a multiple of every CPU GEMM tile height.
PAD_ROWS = 64

# Rows per batch at prediction and validation, by device type: on CPU a
# 4096-row batch's activations stay in cache (measured faster than 8192).
PREDICT_ROWS = {"cpu": 4096}
PREDICT_ROWS_DEFAULT = 8192

# Share of the free GPU memory that training data may take to be kept there.
RESIDENT_SHARE = 0.5

# Batch entries that are not arguments of the module.
BATCH_ONLY = ("sample_weight", "step_scale")


def _keep_on_device(dataset, device):
    """Whether to hold ``dataset`` on ``device`` for the whole fit: on CUDA,
    when it is a regular (one slot per field) dataset taking at most
    ``RESIDENT_SHARE`` of the free device memory."""
    if device.type != "cuda" or not isinstance(dataset.rows, RegularRows):
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return dataset.nbytes <= RESIDENT_SHARE * free


def predict_rows(device, batch_size):
    """Rows per batch when predicting or validating on ``device``."""
    return max(PREDICT_ROWS.get(device.type, PREDICT_ROWS_DEFAULT), batch_size)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class SharedLoss(PassthroughScoring):
    """skorch's epoch loss (the batch losses averaged by batch size), averaged
    over the batches of every process when the net is distributed: every
    process records the same number, and the recipe's decisions that read it
    agree."""

    def on_epoch_end(self, net, **kwargs):
        self.distributed_ = net.distributed
        super().on_epoch_end(net, **kwargs)

    def get_avg_score(self, history):
        if not self.distributed_:
            return super().get_avg_score(history)
        sizes = "train_batch_size" if self.on_train else "valid_batch_size"
        batches = history[-1, "batches", :, [sizes, self.name]]
        weights, scores = np.asarray(batches, dtype=np.float64).reshape(-1, 2).T
        total, rows = _distributed.all_sum(np.dot(weights, scores), weights.sum())
        return total / rows


class EpochTable(PrintLog):
    """skorch's per-epoch table, coloured only when printed to a terminal,
    so that a log redirected to a file carries no colour codes."""

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not (
            self.sink is print and getattr(sys.stdout, "isatty", lambda: False)()
        ):
            text = _ANSI.sub("", text)
        return text


class _Interrupted(BaseException):
    """Carries a ``KeyboardInterrupt`` (as its ``__cause__``) through
    skorch's ``partial_fit``, which would take it for the end of training."""


def _raised_by_callback(error):
    """Whether ``error`` was raised by a skorch callback's ``on_epoch_end``
    itself (skorch's way for a callback, such as ``EarlyStopping``, to end
    training) rather than by a signal arriving anywhere else."""
    traceback = error.__traceback__
    if traceback is None:
        return False
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    frame = traceback.tb_frame
    return frame.f_code.co_name == "on_epoch_end" and isinstance(
        frame.f_locals.get("self"), Callback
    )


class EpochProgress(ProgressBar):
    """skorch's ``ProgressBar``; when its stream (standard error) is not a
    terminal, as in a log file, one line per epoch (the bar as it stands at
    the epoch's end) instead of a bar redrawn with carriage returns."""

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.plain_ = not self._use_notebook() and not _is_terminal(sys.stderr)
        if not self.plain_:
            super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
            return
        total = self.batches_per_epoch
        if total == "auto":
            total = self._get_batches_per_epoch(net, dataset_train, dataset_valid)
        elif total == "count":
            total = len(net.history[-2, "batches"]) if len(net.history) > 1 else None
        self.total_, self.done_, self.start_ = total, 0, time.perf_counter()

    def on_batch_end(self, net, **kwargs):
        if not self.plain_:
            super().on_batch_end(net, **kwargs)
        else:
            self.done_ += 1

    def on_epoch_end(self, net, **kwargs):
        if not self.plain_:
            super().on_epoch_end(net, **kwargs)
            return
        postfix = ", ".join(
            f"{key}={value:.3g}" for key, value in self._get_postfix_dict(net).items()
        )
        line = tqdm.format_meter(
            self.done_,
            self.total_,
            time.perf_counter() - self.start_,
            ascii=True,
            prefix=f"epoch {len(net.history)}",
            postfix=postfix or None,
        )
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _is_terminal(stream):
    return getattr(stream, "isatty", lambda: False)()


def adapt_callbacks(callbacks):
    """``callbacks`` with skorch's ``ProgressBar`` as :class:`EpochProgress`
    (same parameters, same name)."""
    adapted = []
    for callback in callbacks:
        name, instance = callback if isinstance(callback, tuple) else (None, callback)
        if name == SCHEDULE:  # it ran twice, and the next partial_fit dropped it
            raise ValueError(
                f"The callback name {SCHEDULE!r} is the estimator's own; choose "
                "another."
            )
        if getattr(instance, "use_caching", True) is False:
            # scoring without the cached predictions reads skorch's datasets
            # ("Expected array-like, got None")
            raise ValueError(
                f"{type(instance).__name__}(use_caching=False) is not supported: "
                "the estimator's net scores the predictions it caches; leave "
                "use_caching at its default."
            )
        if instance is ProgressBar:
            instance = ProgressBar()
        if type(instance) is ProgressBar:
            name = name or "ProgressBar"
            callback = (name, EpochProgress(**instance.get_params()))
        adapted.append(callback)
    return adapted


def _defer_loss_values(device):
    """Whether to read the batch losses back once per epoch instead of once
    per batch: on CUDA, where reading one waits for the device."""
    return device.type == "cuda"


class DeepFMNet(NeuralNet):
    """skorch ``NeuralNet`` fed by :class:`~sklearn_deepfm._batching.EncodedDataset`.

    Parameters
    ----------
    shuffle_seed : int
        Seed of the per-epoch shuffling order.
    classes : ndarray or None
        Encoded class indices ``0..n_classes-1`` for classification.
    distributed : bool
        Whether the processes of torch.distributed's default process group
        train this net together (see :mod:`~sklearn_deepfm._distributed`):
        every step's gradients are averaged over them, every process takes
        the same number of steps per epoch, and the epoch losses and
        ``keep_interactions`` are reduced over them.
    init_seed : int or None
        Seed of the module's initial weights and of training's draws (see
        :meth:`initialize_module`); None: torch's global generator as it
        stands.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.  The criterion must be built
        with ``reduction='none'``.
    """

    def __init__(
        self,
        *args,
        shuffle_seed=0,
        classes=None,
        distributed=False,
        init_seed=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.shuffle_seed = shuffle_seed
        self.classes = classes
        self.distributed = distributed
        self.init_seed = init_seed

    @property
    def classes_(self):
        """Encoded classes, so that scikit-learn scorers in skorch's
        ``EpochScoring`` (e.g. 'roc_auc') treat the net as a classifier."""
        if self.classes is None:
            raise AttributeError("a regression net has no classes_")
        return self.classes

    def predict(self, X):
        """Encoded class indices for classifiers (the most probable class,
        as skorch's classifier nets give), so that label-based scorers in
        ``EpochScoring`` (e.g. 'accuracy') work; raw outputs for regression.
        skorch's ``NeuralNet.predict`` gives the probabilities."""
        output = super().predict(X)
        if self.classes is None:
            return output
        return self.classes[output.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.classes is not None:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        return tags

    def get_default_callbacks(self):
        callbacks = [
            (name, EpochTable() if name == "print_log" else callback)
            for name, callback in super().get_default_callbacks()
        ]
        if self.distributed:
            callbacks = [(name, _shared_loss(callback)) for name, callback in callbacks]
        return callbacks

    def get_split_datasets(self, X, y=None, **fit_params):
        """``X`` may be a ``(train, valid)`` pair of datasets split beforehand."""
        if isinstance(X, tuple):
            return X
        return super().get_split_datasets(X, y, **fit_params)

    def get_dataset(self, X, y=None):
        if not isinstance(X, EncodedDataset):
            raise TypeError(
                f"DeepFMNet takes an EncodedDataset, got {type(X).__name__}; use "
                "DeepFMClassifier or DeepFMRegressor on raw data."
            )
        return X

    def get_iterator(self, dataset, training=False):
        device, copy_to = torch.device(self.device), None
        if _keep_on_device(dataset, device):
            dataset = dataset.to(device)
        elif device.type == "cuda":
            copy_to = device
        if training:
            order = np.random.default_rng(self.shuffle_seed)
            # batch norm cannot train on one row
            min_rows = 2 if self._normalises_batches() else 1
            if self.distributed:
                iterator = StepBatchIterator(
                    dataset,
                    _distributed.gather(len(dataset)),
                    self.batch_size,
                    random_state=order,
                    copy_to=copy_to,
                    min_rows=min_rows,
                )
            else:
                iterator = BatchIterator(
                    dataset,
                    self.batch_size,
                    shuffle=True,
                    random_state=order,
                    copy_to=copy_to,
                    min_rows=min_rows,
                )
            # the training steps of an epoch (the same on every process of
            # a distributed fit), for the training schedule's average
            self.steps_per_epoch_ = len(iterator)
            return iterator
        batch_size = self._predict_rows()
        return BatchIterator(dataset, batch_size, copy_to=copy_to)

    def _predict_rows(self):
        rows = getattr(self, "iterator_valid__batch_size", None)
        if rows is None:
            rows = predict_rows(torch.device(self.device), self.batch_size)
        # the crosses' lookup holds rows x pairs entries (about 46 bytes
        # each): bounded as the fit bounds them (19,900 pairs took 3.8 GiB
        # for 4,096 rows), in whole padded blocks, which change no row
        module = getattr(self, "module_", None)
        n_pairs = 0 if module is None else module.crosses.pairs.shape[0]
        if n_pairs:
            cap = MAX_CROSSED_ENTRIES // n_pairs // PAD_ROWS * PAD_ROWS
            rows = min(rows, max(PAD_ROWS, cap))
        return rows

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, with a batch's size read from its slots (a
        batch's bags are flat, of another length); on CUDA the batch losses
        are recorded at the end of the epoch, so that no batch waits for the
        device.  A validation pass keeps its rows' losses in
        ``valid_losses_`` until the end of training."""
        if iterator is None:
            return
        defer = _defer_loss_values(torch.device(self.device))
        batches, positions, losses, n_batches = None, [], [], 0
        row_losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            if not training:
                Xi, yi = unpack_data(batch)
                row_losses.append(self._weighted_losses(step["y_pred"], yi, Xi))
            if defer:
                batches = self.history[-1]["batches"]
                positions.append(len(batches) - 1)
                losses.append(step["loss"].detach())
            else:
                self.history.record_batch(prefix + "_loss", step["loss"].item())
            n_rows = batch[0]["indices"].shape[0]
            self.history.record_batch(prefix + "_batch_size", n_rows)
            self.notify("on_batch_end", batch=batch, training=training, **step)
            n_batches += 1
        if losses:
            for position, loss in zip(
                positions, torch.stack(losses).tolist(), strict=True
            ):
                batches[position][prefix + "_loss"] = loss
        self.history.record(prefix + "_batch_count", n_batches)
        if not training:
            # the weighted loss of every validation row (this process's)
            self.valid_losses_ = _as_float64(row_losses)

    def initialize_module(self):
        """skorch's; where the estimator has set ``init_seed``, the module's
        weights are drawn from that seed (:func:`~sklearn_deepfm._seeding.seeded`:
        alone among the fits of the process, torch's global generators
        restored after), and training's draws go on from there
        (``random_stream_``).  The callbacks' ``initialize`` (the user's code)
        runs outside that block."""
        seed = self.init_seed
        if seed is None:
            return super().initialize_module()
        with _seeding.seeded(seed, self.device):
            super().initialize_module()
            self.random_stream_ = _seeding.Stream(self.device)
        return self

    def infer(self, x, **fit_params):
        """The module's output; in training, a module with dropout draws its
        masks from ``random_stream_``, the fit's own stream (see
        :mod:`~sklearn_deepfm._seeding`), where the estimator has set one."""
        x = {key: value for key, value in x.items() if key not in BATCH_ONLY}
        stream = getattr(self, "random_stream_", None)
        if stream is None or not self.module_.training or not self._drops_out():
            return super().infer(x, **fit_params)
        with stream.drawing():
            return super().infer(x, **fit_params)

    def _drops_out(self):
        return any(isinstance(m, torch.nn.Dropout) for m in self.module_.modules())

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean of the per-sample losses times the (mean-one) sample weights."""
        return self._weighted_losses(y_pred, y_true, X).mean()

    def _weighted_losses(self, y_pred, y_true, X):
        target = to_tensor(y_true, device=self.device)
        weight = to_tensor(X["sample_weight"], device=self.device)
        return self.criterion_(y_pred, target) * weight

    # training on several processes -------------------------------------------
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, from which a ``KeyboardInterrupt``
        (Ctrl-C) reaches the caller after the callbacks' ``on_train_end``
        (the training schedule then restores the best epoch's weights).

        When distributed, every process starts from process 0's module and
        every step's gradients are averaged over the processes (see
        :meth:`train_step_single`).
        """
        if self.distributed:
            if not self.initialized_:
                self.initialize()
            _distributed.share_module(self.module_)
        try:
            super().partial_fit(X, y, classes, **fit_params)
        except _Interrupted as interrupted:
            interrupt = interrupted.__cause__
        except Exception:
            # an error (a callback's) leaves the model as Ctrl-C does, at the
            # schedule's best epoch (it kept the failing step's weights and a
            # second copy of the best ones)
            schedule = dict(getattr(self, "callbacks_", [])).get(SCHEDULE)
            if schedule is not None:
                schedule.on_train_end(self)
            raise
        else:
            if self.distributed:
                _distributed.broadcast_buffers(self.module_)
            return self
        self.notify("on_train_end", X=X, y=y)
        raise interrupt

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; a callback's :class:`StopTraining` ends it, and a
        ``KeyboardInterrupt`` leaves as :class:`_Interrupted`."""
        self._retain_freed_memory()
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except StopTraining:
            return self
        except KeyboardInterrupt as interrupt:
            raise _Interrupted from interrupt
        finally:
            self.valid_losses_ = None  # a fitted net keeps no row losses

    def _retain_freed_memory(self):
        """On a CPU, let the C allocator keep what one batch frees for the
        next (see :mod:`sklearn_deepfm._allocator`)."""
        if torch.device(self.device).type == "cpu":
            retain_freed_memory()

    def notify(self, method_name, **cb_kwargs):
        """skorch's callback dispatch; a ``KeyboardInterrupt`` that a
        callback's ``on_epoch_end`` raises itself (skorch's ``EarlyStopping``)
        ends training as :class:`StopTraining` does.  The epoch that ends
        training is still printed: skorch calls the ``PrintLog`` callbacks
        last, after the one that stopped it.  The recipe's schedule has seen
        every epoch by then: it runs before the user's callbacks
        (:meth:`_notify_epoch_end`; one that ended training before it had
        kept an older epoch than the best).  At the end of training the
        recipe's schedule goes first, restoring the best epoch's weights
        before the other callbacks see the model: a user's ``on_train_end``
        that raised (Ctrl-C during a checkpoint's save) left the last
        epoch's weights and a second copy of the best ones."""
        if method_name == "on_train_end" and SCHEDULE in dict(self.callbacks_):
            dict(self.callbacks_)[SCHEDULE].on_train_end(self, **cb_kwargs)
        stop = None
        try:
            try:
                if method_name == "on_epoch_end":
                    stop = self._notify_epoch_end(cb_kwargs)
                else:
                    super().notify(method_name, **cb_kwargs)
            except KeyboardInterrupt as interrupt:
                if method_name == "on_epoch_end" and _raised_by_callback(interrupt):
                    raise StopTraining from interrupt
                raise
        except StopTraining:
            if method_name == "on_epoch_end":
                for _, callback in self.callbacks_:
                    if isinstance(callback, PrintLog):
                        callback.on_epoch_end(self, **cb_kwargs)
            raise
        if stop is not None:  # the schedule's, once every callback has run
            raise stop

    def _notify_epoch_end(self, cb_kwargs):
        """skorch's dispatch of ``on_epoch_end``, except that the recipe's
        schedule, which runs before the user's callbacks so that they read
        its ``best_epoch`` and ``lr_cut``, ends training only once they have
        all seen the epoch: its :class:`StopTraining` is returned, for
        :meth:`notify` to raise."""
        self.on_epoch_end(self, **cb_kwargs)
        stop = None
        for name, callback in self.callbacks_:
            try:
                callback.on_epoch_end(self, **cb_kwargs)
            except StopTraining as schedule_stop:
                if name != SCHEDULE:
                    raise
                stop = schedule_stop
        return stop

    def train_step_single(self, batch, **fit_params):
        """skorch's step; when distributed, the gradient is that of this
        process's share of the mean loss over the step's rows of all
        processes (each batch carries the share per row as ``step_scale``),
        averaged over the processes before the optimizer's step, and the
        loss recorded is the mean over this process's rows."""
        if not self.distributed:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        losses = self._weighted_losses(y_pred, yi, Xi)
        scale = to_tensor(Xi["step_scale"], device=self.device)
        (losses * scale).sum().backward()
        _distributed.average_gradients(*self._trained_parameters())
        loss = losses.detach().sum() / max(losses.numel(), 1)
        return {"loss": loss, "y_pred": y_pred}

    def _trained_parameters(self):
        """(dense, sparse): the parameters that training updates, by the
        layout of their gradients."""
        sparse_tables = {
            id(table.weight) for table in self._embedding_tables() if table.sparse
        }
        dense, sparse = [], []
        for parameter in self.module_.parameters():
            if parameter.requires_grad:
                is_sparse = id(parameter) in sparse_tables
                (sparse if is_sparse else dense).append(parameter)
        return dense, sparse

    def _embedding_tables(self):
        return [
            module
            for module in self.module_.modules()
            if isinstance(module, torch.nn.Embedding)
        ]

    def _normalises_batches(self):
        """Whether the deep part normalises its batches (``batch_norm``)."""
        return any(isinstance(m, torch.nn.BatchNorm1d) for m in self.module_.modules())

    def averaged_parameters(self):
        """The trained parameters that the recipe averages over its steps
        (:class:`~sklearn_deepfm._schedule.TrainingSchedule`): all but the
        embedding tables, whose rows move only in the steps that use them;
        none where the deep part normalises its batches (``batch_norm``),
        whose running statistics would not be those of averaged weights."""
        if self._normalises_batches():
            return []
        tables = {id(table.weight) for table in self._embedding_tables()}
        return [
            parameter
            for parameter in self.module_.parameters()
            if parameter.requires_grad and id(parameter) not in tables
        ]

    # what the estimators ask of the module ----------------------------------
    def set_linear(self, weight, bias, crosses=None):
        """Set the first-order weights and bias and keep them fixed in
        training (see :mod:`~sklearn_deepfm._linear`).

        ``crosses``, ``(pairs, keys)`` or None (no crosses), are the pairwise
        crosses whose weights follow the features' rows in ``weight`` (see
        :mod:`~sklearn_deepfm._crosses`)."""
        module = self.module_
        linear = module.linear
        weight = torch.as_tensor(weight)
        n_embeddings = linear.weight.num_embeddings
        pairs, keys = crosses if crosses is not None else ((), ())
        module.crosses.set(
            np.reshape(pairs, (-1, 2)), np.asarray(keys), weight[n_embeddings:]
        )
        with torch.no_grad():
            linear.weight.weight.copy_(weight[:n_embeddings])
            linear.bias.copy_(torch.as_tensor(bias))
        linear.requires_grad_(False)

    def linear_part(self):
        """``(weight, bias)``: the first-order weights of the features (not
        those of the crosses) and the bias, as :meth:`set_linear` takes
        them."""
        linear = self.module_.linear
        return (
            linear.weight.weight.detach().cpu().numpy().copy(),
            linear.bias.detach().cpu().numpy().copy(),
        )

    def blend_linear(self, share, weight, bias, crosses):
        """Make the module ``(1 - share)`` times itself plus ``share`` times the
        linear model ``(weight, bias)`` over the features and the crosses
        ``(pairs, keys)`` (weights as in :meth:`set_linear`), in the raw
        outputs, for ``share`` in (0, 1]: the first-order weights and the
        bias mix, the crosses' weights are scaled by ``share`` and the FM and
        deep terms by ``1 - share`` (none are left at ``share=1``)."""
        module = self.module_
        linear = module.linear
        n_embeddings = linear.weight.num_embeddings
        weight = np.asarray(weight, dtype=np.float32)
        own = linear.weight.weight.detach().cpu().numpy()
        own_bias = linear.bias.detach().cpu().numpy()
        features, pairs = weight[:n_embeddings], weight[n_embeddings:]
        mixed = np.concatenate([(1 - share) * own + share * features, share * pairs])
        mixed_bias = (1 - share) * own_bias + share * np.asarray(bias)
        self.set_linear(mixed, mixed_bias, crosses)
        if share == 1:
            self.drop_interactions()
        elif not module.linear_only:
            module.scale_interactions(1 - share)

    def set_bag_fields(self, bag_fields):
        """The fields that arrive as bags, after a field that held no value
        turned into a multi-valued one (see ``FeatureEncoder.extend``)."""
        self.module__bag_fields = tuple(bag_fields)
        self.module_.set_bag_fields(bag_fields)

    def grow(self, new_rows, n_embeddings, generator):
        """Grow the embedding tables to ``n_embeddings`` rows after the input
        layout gained categories (see ``FeatureEncoder.extend``).

        Old row ``r`` moves to ``new_rows[r]`` with its optimizer state, and
        the crosses keyed by it follow; the
        new rows start as a fitted model's rows did (small random embeddings
        drawn from ``generator``, zero first-order weights, no optimizer
        history).
        """
        module = self.module_
        index = torch.as_tensor(new_rows, device=module.embedding.weight.device)
        states = self.optimizer_.state if self.initialized_ else {}
        std = module.embedding_init_std
        for table in (module.embedding, module.linear.weight):
            param = table.weight
            grown = param.new_zeros((n_embeddings, param.shape[1]))
            if table is module.embedding:
                fresh = torch.randn(grown.shape, generator=generator, dtype=grown.dtype)
                fresh *= std
                grown.copy_(fresh.to(grown.device))
            with torch.no_grad():
                grown[index] = param
            param.data = grown
            table.num_embeddings = n_embeddings
            for key, value in states.get(param, {}).items():
                if torch.is_tensor(value) and value.shape[:1] == index.shape:
                    moved = value.new_zeros((n_embeddings, *value.shape[1:]))
                    moved[index] = value
                    states[param][key] = moved
        module.crosses.move_rows(new_rows)

    def set_bias(self, bias):
        """Set the output bias (the log prior odds for classifiers)."""
        with torch.no_grad():
            self.module_.linear.bias.copy_(torch.as_tensor(bias))

    def drop_interactions(self):
        """Predict with the first-order part alone."""
        self.module_.linear_only = True

    def enable_interactions(self, seed):
        """Train and predict with the FM and deep parts (again).

        Where the recipe had dropped them, they start afresh (drawn from
        ``seed``, with no optimizer history), as ``fit`` starts them on its
        solved first-order part: turned back on as they were, they added to
        a linear model fitted to be the whole model (a crossed model at share
        1 went from 0.11 to 2.2 training squared error after a
        ``partial_fit``; a warm fit moved the logits by up to 0.29 before its
        first step)."""
        module = self.module_
        if module.linear_only:
            with _seeding.seeded(seed, module.embedding.weight.device):
                module.restart_interactions()
            for param in module.interaction_parameters():
                self.optimizer_.state.pop(param, None)
            # at the learning rate fit starts them at, not the one the
            # schedule had cut it to (10 or 100 times lower)
            for group in self.optimizer_.param_groups:
                group["lr"] = self.lr
        module.linear_only = False

    def stream(self, callbacks, seed, replace=False):
        """Train on from here one pass per ``partial_fit`` call: the FM and
        deep parts on (:meth:`enable_interactions`), and the recipe's
        early-stopping schedule (a ``fit`` feature) replaced by ``callbacks``
        alone, as they are whenever ``replace`` (the user set others)."""
        self.enable_interactions(seed)
        if replace:
            self.callbacks = callbacks
            self.initialize_callbacks()
        elif SCHEDULE in dict(self.callbacks_):
            # the schedule leaves; the others go on as they are, as skorch's
            # partial_fit keeps them (they were initialised again: a
            # callback's count and the best train loss restarted)
            self.callbacks_ = [c for c in self.callbacks_ if c[0] != SCHEDULE]
            self.callbacks = callbacks

    def move_to(self, device):
        """Predict (and train) on ``device`` from now on."""
        if torch.device(self.device) != device:
            self.module_.to(device)
            self.device = str(device)

    def set_sparse_gradients(self, sparse):
        """Make the embedding tables give sparse gradients or dense ones
        (a warm fit with another optimizer: Adam, RMSprop and weight decay
        refuse sparse gradients), in the module and in the settings a pickle
        rebuilds it from."""
        for table in self._embedding_tables():
            table.sparse = sparse
        self.module__sparse = sparse

    def lr_schedule_keys(self):
        """What torch's learning-rate schedulers left in each parameter group
        of the optimizer (``initial_lr``, OneCycleLR's ``max_lr``, ...): the
        keys a fresh optimizer's groups lack."""
        fresh = set(self.optimizer_.defaults) | {"params", "lr"}
        return [
            {key: value for key, value in group.items() if key not in fresh}
            for group in self.optimizer_.param_groups
        ]

    def resume_lr_schedules(self, keys):
        """Let a skorch ``LRScheduler`` go on from the history in a warm fit's
        fresh optimizer: torch's schedulers resume from keys of the groups
        (``initial_lr``; the warm fit had met torch's KeyError), the previous
        optimizer's ``keys`` (:meth:`lr_schedule_keys`), else this fit's
        rate. A group the previous optimizer did not have (a fit whose
        interactions the recipe dropped ended with one) takes the first
        group's keys but its own rate: OneCycleLR resumes from ``max_lr`` in
        every group (torch's KeyError)."""
        first = dict(keys[0]) if keys else {}
        first.pop("initial_lr", None)
        for i, group in enumerate(self.optimizer_.param_groups):
            previous = keys[i] if i < len(keys) else first
            for key, value in previous.items():
                group.setdefault(key, value)
            group.setdefault("initial_lr", group["lr"])

    def set_weight_decay(self, alpha):
        """Use the L2 penalty ``alpha`` from the next step on, as
        ``MLPClassifier.partial_fit`` reads its ``alpha`` at every call."""
        for group in self.optimizer_.param_groups:
            group["weight_decay"] = alpha

    def set_dropout(self, rate):
        """Drop out at ``rate`` from the next step on, in a module built with
        dropout layers, and rebuild it so after a pickle."""
        for layer in self.module_.modules():
            if isinstance(layer, torch.nn.Dropout):
                layer.p = rate
        self.module__dropout = rate

    def finite(self):
        """Whether every parameter the module predicts with is finite: those
        of the first-order part alone where the interactions were dropped
        (a deep part that diverged and was dropped had failed the fit of a
        model that predicts)."""
        module = self.module_
        parts = [module.linear, module.crosses] if module.linear_only else [module]
        with torch.no_grad():
            return all(
                bool(torch.isfinite(p).all())
                for part in parts
                for p in part.parameters()
            )

    def linear_only(self):
        """Whether the module predicts with the first-order part alone."""
        return self.module_.linear_only

    def n_embeddings(self):
        """Rows of the module's embedding tables."""
        return self.module_.embedding.num_embeddings

    def weights(self):
        """The module's parameters and buffers by name, as NumPy arrays
        (copies, on the CPU)."""
        return {
            name: tensor.detach().cpu().numpy().copy()
            for name, tensor in self.module_.state_dict().items()
        }

    def frozen(self):
        """Names of the parameters that training leaves fixed."""
        return [
            name
            for name, parameter in self.module_.named_parameters()
            if not parameter.requires_grad
        ]

    def load_weights(self, weights, frozen=(), linear_only=False):
        """Set the module's parameters and buffers from :meth:`weights`,
        keep ``frozen`` fixed in training and predict with the first-order
        part alone when ``linear_only``."""
        module = self.module_
        module.load_state_dict(
            {name: torch.as_tensor(array) for name, array in weights.items()}
        )
        for name, parameter in module.named_parameters():
            parameter.requires_grad_(name not in frozen)
        module.linear_only = bool(linear_only)

    def export_module(self):
        """A copy of the module for inference: eval mode, on the CPU, in
        float32 throughout (a bfloat16 deep part predicts in float32), no
        gradients."""
        module = copy.deepcopy(self.module_).to("cpu").eval()
        module.mlp_dtype = None
        module.requires_grad_(False)
        return module

    def row_losses(self, dataset):
        """Weighted loss of every row of ``dataset``, float64 ndarray."""
        self._set_training(False)
        losses = []
        with torch.inference_mode():
            for start in range(0, len(dataset), self._predict_rows()):
                X, y = dataset.batch(slice(start, start + self._predict_rows()))
                y_pred = self.infer(X)
                target = to_tensor(y, device=self.device)
                weight = to_tensor(X["sample_weight"], device=self.device)
                losses.append(self.criterion_(y_pred, target) * weight)
        return _as_float64(losses)

    def mean_and_error(self, values):
        """Mean of the per-row ``values`` and the standard error of that mean,
        over every process's rows when distributed."""
        return _distributed.mean_and_error(values, self.distributed)

    def keep_interactions(self, dataset, min_rows=0):
        """Keep the FM and deep parts only if they beat the linear part alone
        on the rows of ``dataset`` (the validation rows).

        The interactions are kept when they lower the mean validation loss by
        more than one standard error of the per-row difference: on few or
        noisy validation rows a chance improvement does not replace the
        linear model.  Fewer than ``min_rows`` validation rows (of every
        process) keep the linear part alone.  Returns whether they were kept.
        """
        module = self.module_
        full = self.row_losses(dataset)
        module.linear_only = True
        linear = self.row_losses(dataset)
        mean, standard_error = self.mean_and_error(full - linear)
        weights = dataset.sample_weight  # rows of weight 0 count nowhere
        n_rows = len(dataset) if weights is None else int(np.count_nonzero(weights))
        if self.distributed:
            n_rows = int(_distributed.all_sum(n_rows)[0])
        keep = bool(mean < -standard_error) and n_rows >= min_rows
        module.linear_only = not keep
        self.history.record("interactions_kept", keep)
        self.history.record("interactions_validation_rows", n_rows)
        # what the decision read: a user seeing identical scores can look here
        self.history.record("interactions_gain", float(-mean))
        self.history.record("interactions_gain_error", float(standard_error))
        return keep

    def predict_raw(self, dataset):
        """Raw module outputs for every row, as a float64 ndarray.

        Each batch is padded to a multiple of ``PAD_ROWS`` rows so that the
        matrix kernels see the same tiling whichever rows are predicted
        together: a row's prediction does not depend on its neighbours.
        """
        self.check_is_fitted()
        self._set_training(False)
        self._retain_freed_memory()
        module = self.module_
        # every batch writes into the same buffers (None: nothing to reuse)
        rows = _padded_rows(min(self._predict_rows(), len(dataset)))
        workspace = module.workspace(rows, self.device)
        outputs = []
        with torch.inference_mode():
            for X, n_rows in self._padded_batches(dataset):
                outputs.append(module.predict_into(workspace, **X)[:n_rows])
            # one copy back at the end: no batch waits for the device
            raw = torch.cat(outputs).to(device="cpu", dtype=torch.float64).numpy()
        return raw.reshape(len(dataset), -1)

    def _padded_batches(self, dataset):
        """The prediction batches of ``dataset``: ``(inputs, n_rows)``, the
        module's inputs as tensors on the net's device, padded with zero rows
        to a multiple of ``PAD_ROWS`` rows."""
        batch_size = self._predict_rows()
        for start in range(0, len(dataset), batch_size):
            X, _ = dataset.batch(slice(start, start + batch_size))
            n_rows = X["indices"].shape[0]
            X = _pad_batch(X, _padded_rows(n_rows))
            inputs = {k: v for k, v in X.items() if k not in BATCH_ONLY}
            yield to_tensor(inputs, device=self.device), n_rows

    # what an explanation reads (see sklearn_deepfm._explain) -----------------
    def field_terms(self, dataset):
        """The parts of the raw outputs of every row of ``dataset`` by field
        (see :meth:`~sklearn_deepfm._model.DeepFM.field_terms`), in the
        batches of :meth:`predict_raw`, so that ``deep`` is the deep part of
        the prediction: a dict of float32 tensors on the net's device."""
        self.check_is_fitted()
        self._set_training(False)
        parts = []
        with torch.inference_mode():
            for X, n_rows in self._padded_batches(dataset):
                terms = self.module_.field_terms(**X)
                parts.append({key: value[:n_rows] for key, value in terms.items()})
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}

    def pair_terms(self, pooled):
        """The FM term of every pair of fields, from per-field pooled
        embeddings (see ``FactorizationMachine.pair_terms``)."""
        with torch.inference_mode():
            return self.module_.fm.pair_terms(pooled)

    def category_rows(self, rows):
        """The embedding row of each field's one value in every row of
        ``rows`` (encoded rows), -1 where a field holds none or several: what
        the crosses are keyed by, read as the module reads a batch; int64
        ndarray ``(n_rows, n_fields)``."""
        X = to_tensor(rows.take(slice(None)), device=self.device)
        with torch.inference_mode():
            categories = self.module_._category_rows(
                X["indices"], X.get("bag_rows"), X.get("bag_offsets")
            )
        return categories.cpu().numpy()

    def cross_fields(self):
        """The two fields of each pair whose crosses the first-order part
        holds, ``(pairs, 2)`` long (none without crosses)."""
        return self.module_.cross_fields()

    def deep_by_field(self):
        """The deep part as a function of the fields' pooled embeddings:
        ``(weight, bias, rest)`` with ``deep(pooled) == rest(bias + sum_f
        pooled[:, f] @ weight[f].T)`` (see
        ``MultiLayerPerceptron.split_first_layer``), in eval mode, float32."""
        self._set_training(False)
        module = self.module_
        return module.mlp.split_first_layer(module.n_fields)

    def output_bias(self):
        """The bias of the raw outputs, float32 tensor ``(n_outputs,)``."""
        return self.module_.linear.bias.detach()


def _as_float64(losses):
    """Per-row loss tensors, joined as one float64 ndarray on the CPU."""
    if not losses:
        return np.zeros(0)
    return torch.cat(losses).to(device="cpu", dtype=torch.float64).numpy()


def _shared_loss(callback):
    """``callback`` as a :class:`SharedLoss` when it is skorch's epoch loss."""
    if type(callback) is not PassthroughScoring:
        return callback
    return SharedLoss(callback.name, callback.lower_is_better, callback.on_train)


def _padded_rows(n_rows):
    """``n_rows`` rounded up to a multiple of ``PAD_ROWS``."""
    return -(-n_rows // PAD_ROWS) * PAD_ROWS


def _pad_batch(X, n_rows):
    """The batch ``X`` with zero rows appended up to ``n_rows`` rows (with
    empty bags)."""
    n_given = X["indices"].shape[0]
    padded = {}
    for key, value in X.items():
        if key == "bag_offsets":
            n_bags = value.shape[0] // max(n_given, 1)
            end = X["bag_rows"].shape[0]
            value = torch.cat(
                [value, value.new_full(((n_rows - n_given) * n_bags,), end)]
            )
        elif key not in ("bag_rows", "bag_weights"):
            value = _pad_rows(value, n_rows)
        padded[key] = value
    return padded


def _pad_rows(tensor, n_rows):
    """``tensor`` with zero rows appended up to ``n_rows`` rows."""
    missing = n_rows - tensor.shape[0]
    if missing == 0:
        return tensor
    return torch.cat([tensor, tensor.new_zeros((missing, *tensor.shape[1:]))])
