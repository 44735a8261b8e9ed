"""Typical mistakes and correct variants for ex09_training_loops (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

_MEAN_UPDATE = (
    "        self.total += torch.as_tensor(value).item() * float(weight)\n"
    "        self.count += float(weight)\n"
)
_ACC_UPDATE = (
    "        self.correct += (logits.argmax(dim=1) == targets).sum().item()\n"
    "        self.total += targets.numel()\n"
)
_TRAIN_BODY = (
    "    model.train()\n"
    "    optimizer.zero_grad()\n"
    "    logits = model(inputs)\n"
    "    loss = loss_fn(logits, targets)\n"
    "    loss.backward()\n"
    "    optimizer.step()\n"
    "    if metrics:\n"
    '        metrics["loss"].update(loss.item(), weight=targets.shape[0])\n'
    '        metrics["accuracy"].update(logits.detach(), targets)\n'
    "    return loss.item()\n"
)
_TEST_BODY = (
    "    model.eval()\n"
    "    with torch.no_grad():\n"
    "        logits = model(inputs)\n"
    "        loss = loss_fn(logits, targets)\n"
    "    if metrics:\n"
    '        metrics["loss"].update(loss.item(), weight=targets.shape[0])\n'
    '        metrics["accuracy"].update(logits, targets)\n'
    "    return loss.item()\n"
)
_IMPROVEMENT = (
    '        if history["val_loss"][-1] < best_val_loss:\n'
    '            best_val_loss = history["val_loss"][-1]\n'
    "            best_state = copy.deepcopy(model.state_dict())\n"
    "            epochs_without_improvement = 0\n"
    "        else:\n"
    "            epochs_without_improvement += 1\n"
    "            if patience is not None and epochs_without_improvement >= patience:\n"
    "                break\n"
    "    model.load_state_dict(best_state)\n"
)

MUTANTS = [
    # MeanMetric
    Mutant("MeanMetric", "ignores the weight (plain mean of the updates)",
           find=_MEAN_UPDATE,
           replace="        self.total += torch.as_tensor(value).item()\n        self.count += 1.0\n", likely="ignore the weight"),
    Mutant("MeanMetric", "weights the count but not the sum",
           find=_MEAN_UPDATE, replace=_MEAN_UPDATE.replace(" * float(weight)", ""), likely="not to the sum", also=("fit",)),
    Mutant("MeanMetric", "keeps tensors (result() returns a tensor)",
           find=_MEAN_UPDATE, replace=_MEAN_UPDATE.replace("torch.as_tensor(value).item() * float(weight)",
                                                           "torch.as_tensor(value) * weight"), likely=".item()", also=("fit",)),
    Mutant("MeanMetric", "result() divides by zero when empty",
           find="        return self.total / self.count if self.count else 0.0\n",
           replace="        return self.total / self.count\n", likely="divides by zero"),
    Mutant("MeanMetric", "reset() forgets to reset the count",
           find='"""Forget everything seen, e.g. at the start of an epoch."""\n'
                "        self.total = 0.0\n        self.count = 0.0\n",
           replace='"""Forget everything seen, e.g. at the start of an epoch."""\n        self.total = 0.0\n', likely="reset the count", also=("fit",)),
    # AccuracyMetric
    Mutant("AccuracyMetric", "mean of per-batch accuracies",
           find=_ACC_UPDATE,
           replace="        self.correct += (logits.argmax(dim=1) == targets).float().mean().item()\n"
                   "        self.total += 1\n", likely="per-batch accuracies"),
    Mutant("AccuracyMetric", "argmax over the batch dimension",
           find=_ACC_UPDATE, replace=_ACC_UPDATE.replace("argmax(dim=1)", "argmax(dim=0)"), likely="dim 0", also=("fit",)),
    Mutant("AccuracyMetric", "keeps a tensor count (result() returns a tensor)",
           find=_ACC_UPDATE, replace=_ACC_UPDATE.replace(".sum().item()", ".sum()"), likely="as a tensor", also=("fit",)),
    Mutant("AccuracyMetric", "counts batches instead of samples",
           find=_ACC_UPDATE, replace=_ACC_UPDATE.replace("targets.numel()", "1"), likely="1 per batch", also=("fit",)),
    Mutant("AccuracyMetric", "result() divides by zero when empty",
           find="        return self.correct / self.total if self.total else 0.0\n",
           replace="        return self.correct / self.total\n", likely="divides by zero"),
    Mutant("AccuracyMetric", "reset() keeps the correct count",
           find='"""Forget everything seen, e.g. at the start of an epoch."""\n'
                "        self.correct = 0\n",
           replace='"""Forget everything seen, e.g. at the start of an epoch."""\n', likely="keeps the correct count", also=("fit",)),
    # train_step
    Mutant("train_step", "never zeroes the gradients",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    optimizer.zero_grad()\n", ""), likely="never clear the old gradients", also=("fit",)),
    Mutant("train_step", "forgets model.train()",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    model.train()\n", ""), likely="forgot model.train()", also=("fit",)),
    Mutant("train_step", "zeroes the gradients between backward and step",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    optimizer.zero_grad()\n", "")
           .replace("    loss.backward()\n", "    loss.backward()\n    optimizer.zero_grad()\n"), likely="zero_grad() in between", also=("fit",)),
    Mutant("train_step", "steps before the backward pass",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    loss.backward()\n    optimizer.step()\n",
                                                         "    optimizer.step()\n    loss.backward()\n"), likely="step() before loss.backward()", also=("fit",)),
    Mutant("train_step", "updates the loss metric without the batch-size weight",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("loss.item(), weight=targets.shape[0]", "loss.item()"), likely="batch-size weight"),
    Mutant("train_step", "returns the loss tensor",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    return loss.item()\n", "    return loss\n"), likely="loss tensor"),
    Mutant("train_step", "returns the loss recomputed after the step",
           find=_TRAIN_BODY, replace=_TRAIN_BODY.replace("    return loss.item()\n",
                                                         "    return loss_fn(model(inputs), targets).item()\n"), likely="recomputed after the step", also=("fit",)),
    # test_step
    Mutant("test_step", "forgets model.eval()",
           find=_TEST_BODY, replace=_TEST_BODY.replace("    model.eval()\n", ""), likely="call model.eval() first", also=("fit",)),
    Mutant("test_step", "forgets torch.no_grad()",
           find=_TEST_BODY, replace=_TEST_BODY.replace("    with torch.no_grad():\n        logits = model(inputs)\n"
                                                       "        loss = loss_fn(logits, targets)\n",
                                                       "    logits = model(inputs)\n    loss = loss_fn(logits, targets)\n"), likely="forgot torch.no_grad()"),
    Mutant("test_step", "model.train() instead of model.eval()",
           find=_TEST_BODY, replace=_TEST_BODY.replace("model.eval()", "model.train()"), likely="not model.train()", also=("fit",)),
    Mutant("test_step", "clears the model's gradients",
           find=_TEST_BODY, replace=_TEST_BODY.replace("    model.eval()\n", "    model.eval()\n    model.zero_grad()\n"), likely="must not clear the gradients"),
    Mutant("test_step", "updates the loss metric without the batch-size weight",
           find=_TEST_BODY, replace=_TEST_BODY.replace("loss.item(), weight=targets.shape[0]", "loss.item()"), likely="batch-size weight"),
    Mutant("test_step", "returns the loss tensor",
           find=_TEST_BODY, replace=_TEST_BODY.replace("    return loss.item()\n", "    return loss\n"), likely="loss tensor"),
    # count_parameters
    Mutant("count_parameters", "counts the integer buffers too",
           find=" for b in model.buffers() if b.is_floating_point())", replace=" for b in model.buffers())", likely="integer buffers"),
    Mutant("count_parameters", "forgets the frozen parameters",
           find="    return trainable, frozen + buffers\n", replace="    return trainable, buffers\n", likely="forgot the frozen"),
    Mutant("count_parameters", "forgets the buffers",
           find="    return trainable, frozen + buffers\n", replace="    return trainable, frozen\n", likely="forgot the buffers"),
    Mutant("count_parameters", "every parameter counted as trainable",
           find="    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)\n",
           replace="    trainable = sum(p.numel() for p in model.parameters())\n", likely="every parameter as trainable"),
    Mutant("count_parameters", "counts a shared parameter twice",
           find="    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)\n",
           replace="    trainable = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)"
                   " if p.requires_grad)\n", likely="shared parameter twice"),
    Mutant("count_parameters", "returns a list",
           find="    return trainable, frozen + buffers\n", replace="    return [trainable, frozen + buffers]\n", likely="not a list"),
    # fit
    Mutant("fit", "keeps the last weights instead of the best",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace("    model.load_state_dict(best_state)\n", ""), likely="load_state_dict"),
    Mutant("fit", "remembers the live state_dict (no deepcopy)",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace("copy.deepcopy(model.state_dict())", "model.state_dict()"), likely="deepcopy"),
    Mutant("fit", "restores the best weights only after an early stop",
           find=_IMPROVEMENT,
           replace=_IMPROVEMENT.replace("                break\n    model.load_state_dict(best_state)\n",
                                        "                model.load_state_dict(best_state)\n                break\n"), likely="only after an early stop"),
    Mutant("fit", "an equal val_loss counts as an improvement",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace('[-1] < best_val_loss', '[-1] <= best_val_loss'), likely="strictly lower"),
    Mutant("fit", "the patience counter is never reset",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace("            epochs_without_improvement = 0\n", ""), likely="patience counter is never reset"),
    Mutant("fit", "stops one epoch too late (> patience)",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace(">= patience", "> patience"), likely="one epoch too late"),
    Mutant("fit", "monitors the training loss",
           find=_IMPROVEMENT, replace=_IMPROVEMENT.replace('history["val_loss"][-1]', 'history["loss"][-1]'), likely="monitor the training loss"),
    Mutant("fit", "never resets the metrics between epochs",
           find="        for metric in [*train_metrics.values(), *val_metrics.values()]:\n            metric.reset()\n",
           replace="", likely="never reset the metrics"),
    Mutant("fit", "one epoch too few",
           find="    for _ in range(epochs):\n", replace="    for _ in range(epochs - 1):\n", likely="one epoch too few"),
    Mutant("fit", "swaps accuracy and val_accuracy",
           find='        history["accuracy"].append(train_metrics["accuracy"].result())\n',
           replace='        history["accuracy"].append(val_metrics["accuracy"].result())\n', likely="comes from the training metrics"),
    Mutant("MeanMetric", "reset() forgets to reset the total (the weighted sum)",
           find='"""Forget everything seen, e.g. at the start of an epoch."""\n'
                "        self.total = 0.0\n        self.count = 0.0\n",
           replace='"""Forget everything seen, e.g. at the start of an epoch."""\n        self.count = 0.0\n', likely="reset the total", also=("fit",)),
    Mutant("AccuracyMetric", "reset() keeps the total count",
           find='"""Forget everything seen, e.g. at the start of an epoch."""\n'
                "        self.correct = 0\n        self.total = 0\n",
           replace='"""Forget everything seen, e.g. at the start of an epoch."""\n        self.correct = 0\n', likely="keeps the total count", also=("fit",)),
]

EQUIVALENTS = [
    Equivalent("MeanMetric converts with float() instead of .item()",
               find=_MEAN_UPDATE, replace=_MEAN_UPDATE.replace("torch.as_tensor(value).item()", "float(value)")),
    Equivalent("AccuracyMetric with the tutorial's torch.max(outputs, dim=1)",
               find=_ACC_UPDATE,
               replace="        _, predicted = torch.max(logits, dim=1)\n"
                       "        self.correct += (predicted == targets).sum().item()\n"
                       "        self.total += targets.size(0)\n"),
    Equivalent("train_step checks `metrics is not None` and prints the loss",
               find=_TRAIN_BODY,
               replace=_TRAIN_BODY.replace("    if metrics:\n", "    print(f'loss {loss.item():.4f}')\n"
                                                               "    if metrics is not None:\n")),
    Equivalent("test_step under torch.inference_mode() with softmax probabilities for the accuracy",
               find=_TEST_BODY,
               replace=_TEST_BODY.replace("torch.no_grad()", "torch.inference_mode()")
               .replace('metrics["accuracy"].update(logits, targets)',
                        'metrics["accuracy"].update(torch.softmax(logits, dim=1), targets)')),
    Equivalent("count_parameters with explicit loops",
               find="    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)\n"
                    "    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)\n"
                    "    buffers = sum(b.numel() for b in model.buffers() if b.is_floating_point())\n"
                    "    return trainable, frozen + buffers\n",
               replace="    trainable = non_trainable = 0\n    for p in model.parameters():\n"
                       "        if p.requires_grad:\n            trainable += p.numel()\n"
                       "        else:\n            non_trainable += p.numel()\n"
                       "    for b in model.buffers():\n        if b.dtype.is_floating_point:\n"
                       "            non_trainable += b.numel()\n    return (trainable, non_trainable)\n"),
    Equivalent("fit builds fresh metrics every epoch and prints Keras-style progress",
               find="        for metric in [*train_metrics.values(), *val_metrics.values()]:\n            metric.reset()\n",
               replace="        train_metrics = {'loss': MeanMetric(), 'accuracy': AccuracyMetric()}\n"
                       "        val_metrics = {'loss': MeanMetric(), 'accuracy': AccuracyMetric()}\n"
                       "        print(f'epoch {len(history[\"loss\"]) + 1}/{epochs}')\n"),
    Equivalent("fit snapshots the weights with clone() in a dict comprehension",
               find=_IMPROVEMENT,
               replace=_IMPROVEMENT.replace("best_state = copy.deepcopy(model.state_dict())",
                                            "best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}")),
]
