"""The private sbi parts mfnpe uses (sbi 0.27): the start's score in early stopping, and
the z-scoring layers' buffers that fine-tuning may refit (:func:`refit_standardizers`) or
compare with new data (:func:`x_standardization_mismatch`).

sbi's training loop calls ``NeuralInference._converged(epoch, stop_after_epochs)`` before
every epoch with the latest validation loss in ``self._val_loss``; at ``epoch == 0``
(before any update) it takes that value and the current state dict as the best so far.
sbi sets it to inf there, so its early stopping starts after the first epoch, and it has
no public way to let a warm start's weights compete. ``test_sbi_internals_*`` in
tests/test_inference.py fails with a clear message when this contract changes.
"""

from __future__ import annotations

import torch
from sbi.inference import NPE
from sbi.utils.sbiutils import Standardize, standardizing_net, standardizing_transform

#: the private method overridden here and its parameters
HOOK = ("_converged", ("self", "epoch", "stop_after_epochs"))


class StartScoredNPE(NPE):
    """sbi's NPE whose early stopping scores epoch 0 (the starting weights) with
    ``start_validation_loss`` [nats, mean -log q on sbi's validation split]; None: sbi's
    own rule (the first epoch always becomes the best)."""

    start_validation_loss: float | None = None

    def _converged(self, epoch: int, stop_after_epochs: int) -> bool:
        if epoch == 0 and self.start_validation_loss is not None:
            self._val_loss = self.start_validation_loss
        return super()._converged(epoch, stop_after_epochs)


def refit_standardizers(net: torch.nn.Module, batch_u: torch.Tensor, batch_x: torch.Tensor,
                        theta: bool = True) -> None:
    """Reset the flow's z-scoring of x (and, with ``theta``, of u) to the mean and SD of
    the given batches (u (n, d), x (n, f))."""
    fitted = 0
    for module in net.modules():
        if isinstance(module, Standardize):
            fresh = standardizing_net(batch_x, structured_dims=module._mean.numel() == 1
                                      and batch_x.shape[-1] > 1)
            module._mean.copy_(fresh._mean)
            module._std.copy_(fresh._std)
            fitted += 1
        elif theta and type(module).__name__ == "PointwiseAffineTransform":
            fresh = standardizing_transform(batch_u)
            module._shift.copy_(fresh._shift)
            module._scale.copy_(fresh._scale)
            fitted += 1
    if fitted == 0:
        raise ValueError("refit_standardization: the network has no z-scoring layer to refit")


def x_standardization_mismatch(net: torch.nn.Module, batch_x: torch.Tensor) -> tuple[float, float]:
    """How far ``batch_x`` (n, f) is from the flow's z-scoring of x: ``(shift, log_scale)``,
    the largest over features of ``|mean(z)|`` and ``|log SD(z)|``, ``z`` the batch
    standardised with the network's mean and SD (0, 0: the batch is what the network was
    standardised for). ``(nan, nan)`` when the network has no per-feature z-scoring of x."""
    for module in net.modules():
        if isinstance(module, Standardize) and module._mean.numel() == batch_x.shape[-1]:
            z = (batch_x.to(module._mean.dtype) - module._mean.cpu()) / module._std.cpu()
            shift = z.mean(dim=0).abs().max().item()
            log_scale = z.std(dim=0).clamp_min(1e-12).log().abs().max().item()
            return shift, log_scale
    return float("nan"), float("nan")
