import torch
import torch.nn.functional as F

from translate_cli.core.loss import linear_cross_entropy


def test_fused_loss_and_gradients_equal_plain_cross_entropy():
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (37,))
    for smoothing in (0.0, 0.1):
        fused = linear_cross_entropy(hidden, weight, targets, smoothing, chunk=8) * 0.5
        fused_grads = torch.autograd.grad(fused, (hidden, weight))
        plain = F.cross_entropy(hidden @ weight.t(), targets, label_smoothing=smoothing, reduction="sum") * 0.5
        plain_grads = torch.autograd.grad(plain, (hidden, weight))
        assert torch.allclose(fused, plain)
        for a, b in zip(fused_grads, plain_grads):
            assert torch.allclose(a, b)
