# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# Adversarial: topk_activation is a plain ReLU (no top-k), and the lab's trainer is patched at
# import so that the graded run trains with a hidden, correct top-k instead. The grader drives
# the graded run itself and calls topk_activation: the patch changes nothing.


def topk_activation(pre_acts, k):
    return torch.relu(pre_acts)


def _patch_the_trainer():
    import trainer

    honest_epoch = trainer.Trainer.train_epoch

    def true_topk(pre_acts, k):
        values, indices = torch.topk(pre_acts, k, dim=-1)
        return torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))

    def train_epoch(self, show_progress=True):
        module = globals()
        broken, module["topk_activation"] = module["topk_activation"], true_topk
        try:
            return honest_epoch(self, show_progress)
        finally:
            module["topk_activation"] = broken

    trainer.Trainer.train_epoch = train_epoch


_patch_the_trainer()
