"""Typical mistakes in ex09_training_loops, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; the engine runs the item's checks with it and names the
mistake when a student's result matches. Within an item the first matching entry wins, so the more
specific misconceptions come before the broader ones that may give the same result on a check.
"""

from __future__ import annotations

import copy

import torch

from grader.mistakes import Mistakes

mistakes = Mistakes("ex09_training_loops")

AS_NUMBER = ("turn the value into a Python number with .item() (or float()) before adding it up: result() must "
             "return a float, not a tensor")


# ------------------------------------------------------------------ MeanMetric
@mistakes.of("MeanMetric", "you ignore the weight: add value * weight to the total and weight to the count, so a "
                           "batch of 8 counts 8 times")
def mean_ignores_the_weight(reference):
    class MeanMetric(reference.MeanMetric):
        def update(self, value, weight=1.0):
            self.total += torch.as_tensor(value).item()
            self.count += 1.0
    return MeanMetric


@mistakes.of("MeanMetric", "you add the weight to the count but not to the sum: add value * weight to the total")
def mean_weights_only_the_count(reference):
    class MeanMetric(reference.MeanMetric):
        def update(self, value, weight=1.0):
            self.total += torch.as_tensor(value).item()
            self.count += float(weight)
    return MeanMetric


@mistakes.of("MeanMetric", "you weight the sum but count updates, not weights: add the weight to the count, "
                           "count += weight")
def mean_weights_only_the_sum(reference):
    class MeanMetric(reference.MeanMetric):
        def update(self, value, weight=1.0):
            self.total += torch.as_tensor(value).item() * float(weight)
            self.count += 1.0
    return MeanMetric


@mistakes.of("MeanMetric", AS_NUMBER)
def mean_keeps_tensors(reference):
    class MeanMetric(reference.MeanMetric):
        def update(self, value, weight=1.0):
            self.total += torch.as_tensor(value) * weight
            self.count += float(weight)
    return MeanMetric


@mistakes.of("MeanMetric", AS_NUMBER)
def mean_adds_the_tensor_itself(reference):
    class MeanMetric(reference.MeanMetric):
        def update(self, value, weight=1.0):
            self.total += value * weight
            self.count += weight
    return MeanMetric


@mistakes.of("MeanMetric", "result() divides by zero when nothing was seen: return 0.0 while the count is 0")
def mean_divides_by_zero(reference):
    class MeanMetric(reference.MeanMetric):
        def result(self):
            return self.total / self.count
    return MeanMetric


@mistakes.of("MeanMetric", "result() must divide the weighted sum by the sum of the weights, not return the sum")
def mean_returns_the_sum(reference):
    class MeanMetric(reference.MeanMetric):
        def result(self):
            return self.total
    return MeanMetric


@mistakes.of("MeanMetric", "averaging each new value with the previous mean is not the mean of all values: keep a "
                           "weighted sum and the sum of the weights, and divide in result()")
def mean_running_average_of_two(reference):
    class MeanMetric(reference.MeanMetric):
        def __init__(self):
            self.mean = 0.0
            self.seen = False

        def update(self, value, weight=1.0):
            value = torch.as_tensor(value).item()
            self.mean = (self.mean + value) / 2 if self.seen else value
            self.seen = True

        def result(self):
            return self.mean

        def reset(self):
            self.mean, self.seen = 0.0, False
    return MeanMetric


@mistakes.of("MeanMetric", "reset() forgets to reset the count: set both the total and the count back to 0")
def mean_reset_keeps_the_count(reference):
    class MeanMetric(reference.MeanMetric):
        def reset(self):
            self.total = 0.0
    return MeanMetric


@mistakes.of("MeanMetric", "reset() forgets to reset the total (the weighted sum): set both the total and the count "
                           "back to 0")
def mean_reset_keeps_the_total(reference):
    class MeanMetric(reference.MeanMetric):
        def reset(self):
            self.count = 0.0
    return MeanMetric


@mistakes.of("MeanMetric", "your numbers live in class attributes (lists defined in the class body), shared by every "
                           "metric: create them in __init__ with self.")
def mean_shares_class_lists(reference):
    class MeanMetric(reference.MeanMetric):
        values: list = []  # noqa: RUF012 - the mistake itself: one list shared by every metric
        weights: list = []  # noqa: RUF012

        def __init__(self):
            pass

        def update(self, value, weight=1.0):
            self.values.append(torch.as_tensor(value).item() * float(weight))
            self.weights.append(float(weight))

        def result(self):
            return sum(self.values) / sum(self.weights) if sum(self.weights) else 0.0

        def reset(self):
            self.values.clear()
            self.weights.clear()
    return MeanMetric


# ------------------------------------------------------------------ AccuracyMetric
def _accuracy(reference, *, correct=None, size=None, result=None, reset_correct=True, reset_total=True):
    """AccuracyMetric with one step changed: how a batch's correct count, its size or the result is computed."""
    class AccuracyMetric(reference.AccuracyMetric):
        def update(self, logits, targets):
            self.correct += (correct or (lambda lg, t: (lg.argmax(dim=1) == t).sum().item()))(logits, targets)
            self.total += (size or (lambda lg, t: t.numel()))(logits, targets)

        def result(self):
            if result is not None:
                return result(self.correct, self.total)
            return self.correct / self.total if self.total else 0.0

        def reset(self):
            if reset_correct:
                self.correct = 0
            if reset_total:
                self.total = 0
    return AccuracyMetric


@mistakes.of("AccuracyMetric", "you average per-batch accuracies: count the correct samples and the samples over all "
                               "batches, then divide once (a batch of 5 counts more than a batch of 3)")
def accuracy_mean_of_batches(reference):
    return _accuracy(reference, correct=lambda lg, t: (lg.argmax(dim=1) == t).float().mean().item(),
                     size=lambda lg, t: 1)


@mistakes.of("AccuracyMetric", "you add 1 per batch to the total: add the number of samples, targets.numel()")
def accuracy_counts_batches(reference):
    return _accuracy(reference, size=lambda lg, t: 1)


@mistakes.of("AccuracyMetric", "you count logits.numel() (N x C) samples: the number of samples is targets.numel()")
def accuracy_counts_logits(reference):
    return _accuracy(reference, size=lambda lg, t: lg.numel())


@mistakes.of("AccuracyMetric", "your argmax runs over dim 0, the batch: the predicted class of each row is "
                               "logits.argmax(dim=1)")
def accuracy_argmax_over_the_batch(reference):
    return _accuracy(reference, correct=lambda lg, t: (lg.argmax(dim=0) == t).sum().item())


@mistakes.of("AccuracyMetric", "argmax() without dim gives one index into the flattened logits: use "
                               "logits.argmax(dim=1), one class per row")
def accuracy_argmax_without_dim(reference):
    return _accuracy(reference, correct=lambda lg, t: (lg.argmax() == t).sum().item())


@mistakes.of("AccuracyMetric", "torch.max(logits, dim=1) returns (values, indices): the predicted class is the "
                               "indices, [1], or use logits.argmax(dim=1)")
def accuracy_compares_max_values(reference):
    return _accuracy(reference, correct=lambda lg, t: (torch.max(lg, dim=1)[0] == t).sum().item())


@mistakes.of("AccuracyMetric", "you keep the correct count as a tensor: add (...).sum().item(), so result() returns "
                               "a Python float")
def accuracy_tensor_count(reference):
    return _accuracy(reference, correct=lambda lg, t: (lg.argmax(dim=1) == t).sum())


@mistakes.of("AccuracyMetric", "result() divides by zero when nothing was seen: return 0.0 while the total is 0")
def accuracy_divides_by_zero(reference):
    return _accuracy(reference, result=lambda correct, total: correct / total)


@mistakes.of("AccuracyMetric", "result() uses integer division (//): divide with /, the accuracy is a fraction")
def accuracy_integer_division(reference):
    return _accuracy(reference, result=lambda correct, total: correct // total if total else 0.0)


@mistakes.of("AccuracyMetric", "result() must be a fraction in [0, 1], not a percentage: don't multiply by 100")
def accuracy_percentage(reference):
    return _accuracy(reference, result=lambda correct, total: 100 * correct / total if total else 0.0)


@mistakes.of("AccuracyMetric", "reset() keeps the correct count: set both correct and total back to 0")
def accuracy_reset_keeps_correct(reference):
    return _accuracy(reference, reset_correct=False)


@mistakes.of("AccuracyMetric", "reset() keeps the total count: set both correct and total back to 0")
def accuracy_reset_keeps_total(reference):
    return _accuracy(reference, reset_total=False)


# ------------------------------------------------------------------ train_step
def _train_step_with(order, *, mode="train", weighted=True, returned="loss", accuracy_after_step=False):
    """A train_step doing the steps of ``order`` (names of the right steps) in that order."""
    def train_step(model, inputs, targets, loss_fn, optimizer, metrics=None):
        loss = logits = None
        for step in order:
            if step == "mode":
                getattr(model, mode)()
            elif step == "zero_grad":
                optimizer.zero_grad()
            elif step == "forward":
                logits = model(inputs)
                loss = loss_fn(logits, targets)
            elif step == "backward":
                loss.backward()
            elif step == "step":
                optimizer.step()
        if metrics:
            metrics["loss"].update(loss.item(), weight=targets.shape[0]) if weighted else metrics["loss"].update(
                loss.item())
            metrics["accuracy"].update(model(inputs).detach() if accuracy_after_step else logits.detach(), targets)
        if returned == "tensor":
            return loss
        if returned == "after":
            return loss_fn(model(inputs), targets).item()
        return loss.item()
    return train_step


RIGHT_ORDER = ("mode", "zero_grad", "forward", "backward", "step")
NO_STEP = ("your weights never change: call optimizer.step() right after loss.backward(), not step() before "
           "loss.backward() and with no zero_grad() in between")


def _train_step_mistake(order=RIGHT_ORDER, **change):
    def factory(reference):
        return _train_step_with(order, **change)
    return factory


mistakes.of("train_step", "you never clear the old gradients: call optimizer.zero_grad() before loss.backward(), "
                          "because backward adds to what is already in .grad")(
    _train_step_mistake(("mode", "forward", "backward", "step")))
# step() before backward() is observed exactly like zero_grad() between backward() and step(), no step() or no
# backward() (zero_grad() sets the gradients to None, and step() skips a parameter without one): one entry for all
mistakes.of("train_step", NO_STEP)(
    _train_step_mistake(("mode", "zero_grad", "forward", "step", "backward")))
mistakes.of("train_step", "you forgot model.train(): the model may be in eval mode, so Dropout and BatchNorm behave "
                          "as in evaluation; call model.train() first")(
    _train_step_mistake(("zero_grad", "forward", "backward", "step")))
mistakes.of("train_step", "a training step needs model.train(), not model.eval(): BatchNorm must use and update "
                          "the batch statistics")(
    _train_step_mistake(mode="eval"))
mistakes.of("train_step", "you update the loss metric without the batch-size weight: "
                          "metrics['loss'].update(loss.item(), weight=targets.shape[0])")(
    _train_step_mistake(weighted=False))
mistakes.of("train_step", "you return the loss tensor: return loss.item(), a Python float")(
    _train_step_mistake(returned="tensor"))
mistakes.of("train_step", "you return a loss recomputed after the step: return the loss of the batch before the "
                          "step, loss.item()")(
    _train_step_mistake(returned="after"))
mistakes.of("train_step", "you run the model a second time after the step for the accuracy: update the accuracy "
                          "with the logits of the forward pass, logits.detach()")(
    _train_step_mistake(accuracy_after_step=True))


# ------------------------------------------------------------------ test_step
def _test_step_with(*, mode="eval", no_grad=True, zero_grad=False, backward=False, weighted=True, returned="item"):
    """A test_step with one step changed."""
    def test_step(model, inputs, targets, loss_fn, metrics=None):
        if mode:
            getattr(model, mode)()
        if zero_grad:
            model.zero_grad()
        if no_grad:
            with torch.no_grad():
                logits = model(inputs)
                loss = loss_fn(logits, targets)
        else:
            logits = model(inputs)
            loss = loss_fn(logits, targets)
        if backward:
            loss.backward()
        if metrics:
            metrics["loss"].update(loss.item(), weight=targets.shape[0]) if weighted else metrics["loss"].update(
                loss.item())
            metrics["accuracy"].update(logits, targets)
        return loss if returned == "tensor" else loss.item()
    return test_step


def _test_step_mistake(**change):
    def factory(reference):
        return _test_step_with(**change)
    return factory


mistakes.of("test_step", "you forgot both model.eval() and torch.no_grad(): eval() stops BatchNorm from updating its "
                         "statistics, no_grad() stops autograd from recording; use both")(
    _test_step_mistake(mode=None, no_grad=False))
# a check's model is new, so in training mode: forgetting eval() and calling train() are observed alike
mistakes.of("test_step", "call model.eval() first (with its parentheses; not model.train()): in training mode "
                         "BatchNorm uses the batch's statistics and updates its running ones")(
    _test_step_mistake(mode=None))
mistakes.of("test_step", "you forgot torch.no_grad(): compute the logits and the loss inside `with torch.no_grad():` "
                         "so autograd records nothing")(
    _test_step_mistake(no_grad=False))
mistakes.of("test_step", "test_step must not call loss.backward(): evaluating computes no gradients and leaves .grad "
                         "as it was")(
    _test_step_mistake(no_grad=False, backward=True))
mistakes.of("test_step", "test_step must not call loss.backward(): evaluating computes no gradients and leaves .grad "
                         "as it was")(
    _test_step_mistake(backward=True))
mistakes.of("test_step", "test_step must not clear the gradients (zero_grad): evaluating leaves the model's .grad "
                         "as it was")(
    _test_step_mistake(zero_grad=True))
mistakes.of("test_step", "you update the loss metric without the batch-size weight: "
                         "metrics['loss'].update(loss.item(), weight=targets.shape[0])")(
    _test_step_mistake(weighted=False))
mistakes.of("test_step", "you return the loss tensor: return loss.item(), a Python float")(
    _test_step_mistake(returned="tensor"))


@mistakes.of("test_step", "torch.no_grad needs its parentheses: write `with torch.no_grad():`")
def test_step_no_grad_without_parentheses(reference):
    def test_step(model, inputs, targets, loss_fn, metrics=None):
        model.eval()
        with torch.no_grad:
            loss = loss_fn(model(inputs), targets)
        return loss.item()
    return test_step


# ------------------------------------------------------------------ count_parameters
@mistakes.of("count_parameters", "you count the integer buffers too (BatchNorm's num_batches_tracked): only "
                                 "floating-point buffers are weights, b.is_floating_point()")
def count_integer_buffers(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        return trainable, frozen + sum(b.numel() for b in model.buffers())
    return count_parameters


@mistakes.of("count_parameters", "you forgot the frozen parameters: non-trainable is the parameters with "
                                 "requires_grad=False plus the floating-point buffers")
def count_forgets_frozen(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return trainable, sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return count_parameters


@mistakes.of("count_parameters", "you forgot the buffers: BatchNorm's running_mean and running_var are non-trainable "
                                 "weights, add the floating-point model.buffers()")
def count_forgets_buffers(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return trainable, sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return count_parameters


@mistakes.of("count_parameters", "you count every parameter as trainable: only those with p.requires_grad are; the "
                                 "frozen ones are non-trainable")
def count_all_trainable(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters())
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        return trainable, frozen + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return count_parameters


@mistakes.of("count_parameters", "trainable means p.requires_grad, not p.grad is not None (a new model has no "
                                 "gradients yet)")
def count_by_grad(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters() if p.grad is not None)
        frozen = sum(p.numel() for p in model.parameters() if p.grad is None)
        return trainable, frozen + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return count_parameters


@mistakes.of("count_parameters", "you count a shared parameter twice: model.parameters() lists each parameter "
                                 "once, use it rather than every layer's or named_parameters(remove_duplicate=False)")
def count_shared_twice(reference):
    def count_parameters(model):
        params = [p for _, p in model.named_parameters(remove_duplicate=False)]
        trainable = sum(p.numel() for p in params if p.requires_grad)
        frozen = sum(p.numel() for p in params if not p.requires_grad)
        return trainable, frozen + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return count_parameters


@mistakes.of("count_parameters", "state_dict() lists a shared weight twice and holds BatchNorm's integer counter: "
                                 "count model.parameters() and the floating-point model.buffers() instead")
def count_with_the_state_dict(reference):
    def count_parameters(model):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return trainable, sum(v.numel() for v in model.state_dict().values()) - trainable
    return count_parameters


@mistakes.of("count_parameters", "you count tensors, not weights: add up p.numel(), the number of elements of each")
def count_tensors(reference):
    def count_parameters(model):
        trainable = sum(1 for p in model.parameters() if p.requires_grad)
        frozen = sum(1 for p in model.parameters() if not p.requires_grad)
        return trainable, frozen + sum(1 for b in model.buffers() if b.is_floating_point())
    return count_parameters


@mistakes.of("count_parameters", "return a tuple (trainable, non_trainable), not a list")
def count_returns_a_list(reference):
    def count_parameters(model):
        return list(reference.count_parameters(model))
    return count_parameters


# ------------------------------------------------------------------ fit
def _fit_with(reference, *, restore="always", snapshot=copy.deepcopy, better=lambda new, best: new < best,
              reset_counter=True, stop=lambda waited, patience: waited >= patience, monitor="val_loss",
              reset="start", epochs_less=0, swap_accuracy=None, update_best=True, validate="test_step",
              shared_metrics=False):
    """fit with one step changed (the early stopping, the best weights, the metrics or the history)."""
    def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, patience=None):
        train_metrics = {"loss": reference.MeanMetric(), "accuracy": reference.AccuracyMetric()}
        val_metrics = train_metrics if shared_metrics else {"loss": reference.MeanMetric(),
                                                            "accuracy": reference.AccuracyMetric()}
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        best = float("-inf") if monitor == "val_accuracy" else float("inf")
        best_state = snapshot(model.state_dict())
        waited = 0
        for _ in range(epochs - epochs_less):
            if reset == "start":
                for metric in [*train_metrics.values(), *val_metrics.values()]:
                    metric.reset()
            for inputs, targets in train_loader:
                reference.train_step(model, inputs, targets, loss_fn, optimizer, train_metrics)
            for inputs, targets in val_loader:
                if validate == "train_step":
                    reference.train_step(model, inputs, targets, loss_fn, optimizer, val_metrics)
                else:
                    reference.test_step(model, inputs, targets, loss_fn, val_metrics)
            if reset == "before reading":
                for metric in [*train_metrics.values(), *val_metrics.values()]:
                    metric.reset()
            history["loss"].append(train_metrics["loss"].result())
            train_accuracy, val_accuracy = train_metrics["accuracy"].result(), val_metrics["accuracy"].result()
            history["accuracy"].append(val_accuracy if swap_accuracy else train_accuracy)
            history["val_loss"].append(val_metrics["loss"].result())
            history["val_accuracy"].append(train_accuracy if swap_accuracy == "both" else val_accuracy)

            value = history[monitor][-1]
            improved = value > best if monitor == "val_accuracy" else better(value, best)
            if improved:
                if update_best:
                    best = value
                best_state = snapshot(model.state_dict())
                if reset_counter:
                    waited = 0
            else:
                waited += 1
                if patience is not None and stop(waited, patience):
                    if restore == "after an early stop":
                        model.load_state_dict(best_state)
                    break
        if restore == "always":
            model.load_state_dict(best_state)
        return history
    return fit


def _fit_mistake(**change):
    def factory(reference):
        return _fit_with(reference, **change)
    return factory


BEST_WEIGHTS = ("your model ends with its last weights: keep copy.deepcopy(model.state_dict()) of the best epoch "
                "(state_dict() alone keeps changing with the model) and load_state_dict it after the loop")

ACCURACIES = ("history['accuracy'] comes from the training metrics and history['val_accuracy'] from the validation "
              "ones: you mixed them up")

# declared first: on a run without an early stop they look like the ones below, which win on the other checks
mistakes.of("fit", "you load the best weights back only after an early stop: call model.load_state_dict(best_state) "
                   "after the loop, whether it stopped early or not")(
    _fit_mistake(restore="after an early stop"))
mistakes.of("fit", "you monitor the training loss: early stopping and the best weights follow val_loss, the "
                   "validation loss")(
    _fit_mistake(monitor="loss"))
# never restoring and restoring a live state_dict() (no deepcopy) are observed alike: one entry for both
mistakes.of("fit", BEST_WEIGHTS)(_fit_mistake(restore="never"))
mistakes.of("fit", "only a strictly lower val_loss is an improvement: compare with <, not <=")(
    _fit_mistake(better=lambda new, best: new <= best))
mistakes.of("fit", "you never update best_val_loss: set it to the new val_loss whenever it improves")(
    _fit_mistake(update_best=False))
mistakes.of("fit", "the patience counter is never reset: set the count of epochs without improvement back to 0 "
                   "when val_loss improves")(
    _fit_mistake(reset_counter=False))
mistakes.of("fit", "you stop one epoch too late: stop as soon as the epochs without improvement reach patience "
                   "(>= patience, not > patience)")(
    _fit_mistake(stop=lambda waited, patience: waited > patience))
mistakes.of("fit", "you stop one epoch too early: stop when the epochs without improvement reach patience, "
                   "not patience - 1")(
    _fit_mistake(stop=lambda waited, patience: waited >= patience - 1))
mistakes.of("fit", "you monitor val_accuracy: early stopping and the best weights follow val_loss (lower is better)")(
    _fit_mistake(monitor="val_accuracy"))
mistakes.of("fit", "you never reset the metrics, so each epoch's results include the earlier epochs: reset them at "
                   "the start of every epoch")(
    _fit_mistake(reset="never"))
mistakes.of("fit", "you reset the metrics before reading their results: read result() into the history first, "
                   "reset at the start of the next epoch")(
    _fit_mistake(reset="before reading"))
mistakes.of("fit", "training and validation share one metrics dict: give the validation its own "
                   "{'loss': MeanMetric(), 'accuracy': AccuracyMetric()}")(
    _fit_mistake(shared_metrics=True))
mistakes.of("fit", "you validate with train_step, which trains on the validation data: use test_step for the "
                   "validation batches")(
    _fit_mistake(validate="train_step"))
mistakes.of("fit", "you run one epoch too few: loop for _ in range(epochs)")(
    _fit_mistake(epochs_less=1))
mistakes.of("fit", ACCURACIES)(_fit_mistake(swap_accuracy="both"))
mistakes.of("fit", ACCURACIES)(_fit_mistake(swap_accuracy="accuracy"))
