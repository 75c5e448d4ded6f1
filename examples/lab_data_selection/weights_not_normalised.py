# exp(lambda) weights averaged without normalising them over the batch: the scale of the
# weights becomes a learning rate, and shifting every lambda changes the loss.
import torch


def weighted_train_loss(per_sample_losses, log_weights):
    return (torch.exp(log_weights) * per_sample_losses).mean()
