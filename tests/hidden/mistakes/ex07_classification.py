"""Typical mistakes in ex07_classification, recognised from what the code returns (see grader/mistakes.py)."""

from __future__ import annotations

import torch

from grader.mistakes import Mistakes

mistakes = Mistakes("ex07_classification")


@mistakes.of("softmax", "your softmax normalises over dim 0, the batch: each row (one example) should sum to 1, "
                        "so sum over dim=1 with keepdim=True")
def softmax_over_the_batch(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=0, keepdim=True)
    return softmax


@mistakes.of("softmax", "the exponentials overflow: subtract each row's maximum before torch.exp "
                        "(exp(1000) is inf, and inf / inf is nan)")
def softmax_without_the_max_shift(reference):
    def softmax(X):
        X_exp = torch.exp(X)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax
