"""The one private sbi hook mfnpe uses (sbi 0.27): the start's score in early stopping.

sbi's training loop calls ``NeuralInference._converged(epoch, stop_after_epochs)`` before
every epoch with the latest validation loss in ``self._val_loss``; at ``epoch == 0``
(before any update) it takes that value and the current state dict as the best so far.
sbi sets it to inf there, so its early stopping starts after the first epoch, and it has
no public way to let a warm start's weights compete. ``test_sbi_internals_*`` in
tests/test_inference.py fails with a clear message when this contract changes.
"""

from __future__ import annotations

from sbi.inference import NPE

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
